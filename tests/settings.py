"""Test settings: the demo site's, with fast and instrumented password hashers.

Argon2 stays installed (tests that measure hashing switch to it); MD5 hashes new
passwords so the suite is fast. ``tests.hashers`` holds hashers that count or fail, used
as real configuration, not as mocks.
"""

from testproject.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    "tests.hashers.CountingMD5Hasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "tests.hashers.BrokenHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
USERACCOUNTS_SITE_URL = "http://testserver"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"django.request": {"handlers": ["null"], "propagate": True}},
}
SILENCED_SYSTEM_CHECKS = ["useraccounts.W001"]  # MD5 first, for speed
