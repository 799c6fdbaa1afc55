"""What both apps run on in the benchmark: the same Django, database, sessions, cache
and mail, so that the difference is the account app alone."""

import os

SECRET_KEY = "benchmark-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
if os.environ.get("DATABASE_URL"):
    from testproject.settings import database_from_url

    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}
    }
HASHERS = {
    "md5": "django.contrib.auth.hashers.MD5PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
}
PASSWORD_HASHERS = [HASHERS[os.environ.get("BENCH_HASHER", "md5")]]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Large enough that no session is culled while the benchmark runs (--sessions cache).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
    }
}
SESSION_ENGINE = os.environ.get("BENCH_SESSIONS", "django.contrib.sessions.backends.db")
LOGIN_REDIRECT_URL = "/"
