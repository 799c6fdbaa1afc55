"""A site process of the cross-process rate-limit test: a Redis cache shared by every
process, and the database the test made for the sites: a PostgreSQL database
(USERACCOUNTS_TEST_DB_URL) when the suite runs on PostgreSQL, else a SQLite file
(USERACCOUNTS_TEST_DB)."""

import os

from tests.settings import *  # noqa: F403

if os.environ.get("USERACCOUNTS_TEST_DB_URL"):
    DATABASES = {"default": database_from_url(os.environ["USERACCOUNTS_TEST_DB_URL"])}  # noqa: F405
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["USERACCOUNTS_TEST_DB"],
        }
    }
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": os.environ["USERACCOUNTS_TEST_CACHE_PREFIX"],
    }
}
USERACCOUNTS_RATE_LIMITS = {"login_failed": "3/5m/key"}
DEBUG = False
