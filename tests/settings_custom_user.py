"""The same suite with a custom user model: UUID primary key, email as USERNAME_FIELD,
no username field at all."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]  # noqa: F405
AUTH_USER_MODEL = "custom_user.EmailUser"
