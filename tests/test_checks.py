"""System checks: each bad setting is reported with its id, naming the setting and the fix."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from useraccounts.conf import app_settings

PRODUCTION = {
    "DEBUG": False,
    "CACHES": {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379",
        }
    },
    "EMAIL_BACKEND": "anymail.backends.test.EmailBackend",
}


def messages(**settings):
    with override_settings(**{**PRODUCTION, **settings}):
        return {m.id: m for m in checks.run_checks() if m.id.startswith("useraccounts.")}


def test_defaults_pass_except_the_test_hasher_warning():
    assert set(messages()) == {"useraccounts.W001"}


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("USERACCOUNTS_EMAIL_VERIFICATION", "always", "useraccounts.E001"),
        ("USERACCOUNTS_LOGIN_METHODS", ["phone"], "useraccounts.E002"),
        ("USERACCOUNTS_LOGIN_METHODS", [], "useraccounts.E002"),
        ("USERACCOUNTS_RATE_LIMITS", {"signup": "lots"}, "useraccounts.E004"),
        ("USERACCOUNTS_RATE_LIMITS", "5/m/ip", "useraccounts.E004"),
        ("USERACCOUNTS_MANAGER", "no.such.Manager", "useraccounts.E005"),
        ("USERACCOUNTS_MANAGER", "django.contrib.auth.models.User", "useraccounts.E005"),
        ("USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS", 0, "useraccounts.E006"),
        ("USERACCOUNTS_TRUSTED_PROXY_COUNT", -1, "useraccounts.E007"),
        ("USERACCOUNTS_DEFAULT_GROUPS", "members", "useraccounts.E008"),
    ],
)
def test_a_bad_setting_is_an_error_naming_it(setting, value, check_id):
    found = messages(**{setting: value})
    assert check_id in found, found
    assert isinstance(found[check_id], checks.Error)
    assert setting in found[check_id].msg


def test_argon2_not_first_is_a_warning():
    found = messages(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
    assert isinstance(found["useraccounts.W001"], checks.Warning)
    assert "Argon2" in found["useraccounts.W001"].hint
    argon_first = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    assert "useraccounts.W001" not in messages(PASSWORD_HASHERS=argon_first)


@pytest.mark.parametrize(
    ("backend", "text"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "counts per process"),
        ("django.core.cache.backends.dummy.DummyCache", "no counts at all"),
    ],
)
def test_a_per_process_cache_for_rate_limits_is_a_warning(backend, text):
    found = messages(CACHES={"default": {"BACKEND": backend}})
    assert text in found["useraccounts.W002"].msg
    assert "useraccounts.W002" not in messages(
        CACHES={"default": {"BACKEND": backend}}, USERACCOUNTS_RATE_LIMITS=False
    )
    assert "useraccounts.W002" not in messages(
        CACHES={"default": {"BACKEND": backend}}, DEBUG=True
    )


def test_a_development_email_backend_is_a_warning():
    console = "django.core.mail.backends.console.EmailBackend"
    assert "useraccounts.W003" in messages(EMAIL_BACKEND=console)
    assert "useraccounts.W003" not in messages(EMAIL_BACKEND=console, DEBUG=True)


def test_settings_are_read_when_used():
    assert app_settings.EMAIL_VERIFICATION == "mandatory"
    with override_settings(USERACCOUNTS_EMAIL_VERIFICATION="optional"):
        assert app_settings.EMAIL_VERIFICATION == "optional"
    with (
        override_settings(USERACCOUNTS_EMAIL_VERIFICATION="bogus"),
        pytest.raises(ImproperlyConfigured, match="USERACCOUNTS_EMAIL_VERIFICATION"),
    ):
        app_settings.EMAIL_VERIFICATION  # noqa: B018


def test_partial_rate_limits_keep_the_other_defaults():
    with override_settings(USERACCOUNTS_RATE_LIMITS={"signup": "1/m/ip"}):
        limits = app_settings.RATE_LIMITS
    assert limits["signup"] == "1/m/ip"
    assert limits["login_failed"] == "20/5m/ip,5/5m/key"
