"""System checks: each bad setting is reported with its id, naming the setting and the fix."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import reverse

from tests.conftest import create_account
from useraccounts.conf import app_settings
from useraccounts.profile import FORBIDDEN_PROFILE_FIELDS, forbidden_profile_fields

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


def messages(deploy: bool = False, **settings):
    with override_settings(**{**PRODUCTION, **settings}):
        found = checks.run_checks(include_deployment_checks=deploy)
        return {m.id: m for m in found if m.id.startswith("useraccounts.")}


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
    cache = {"default": {"BACKEND": backend}}
    found = messages(deploy=True, CACHES=cache)
    assert text in found["useraccounts.W002"].msg
    assert "useraccounts.W002" in messages(deploy=True, CACHES=cache, DEBUG=True)
    assert "useraccounts.W002" not in messages(
        deploy=True, CACHES=cache, USERACCOUNTS_RATE_LIMITS=False
    )
    # A deployment check: ``check --deploy`` shows it, a plain ``check`` does not.
    assert "useraccounts.W002" not in messages(CACHES=cache)


def test_a_development_email_backend_is_a_warning():
    console = "django.core.mail.backends.console.EmailBackend"
    assert "useraccounts.W003" in messages(deploy=True, EMAIL_BACKEND=console)
    assert "useraccounts.W003" not in messages(EMAIL_BACKEND=console)


def test_check_deploy_on_the_demo_site_shows_the_deployment_warnings():
    """What the README says: ``manage.py check --deploy`` reports them."""
    out = StringIO()
    console = "django.core.mail.backends.console.EmailBackend"
    with override_settings(EMAIL_BACKEND=console):
        # Only the security checks: others (e.g. async.E001 while Playwright runs) are
        # the environment's, not the app's.
        call_command("check", "--deploy", "--tag", "security", stdout=out, stderr=out)
    assert "useraccounts.W003" in out.getvalue()


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


# --- profile fields: no privilege, credential or identity field ------------------------

FORBIDDEN = [
    "is_staff",
    "is_superuser",
    "is_active",
    "password",
    "groups",
    "user_permissions",
    "last_login",
    "date_joined",
    "email",
]


def test_a_privilege_field_in_profile_fields_stops_manage_py():
    with (
        override_settings(USERACCOUNTS_PROFILE_FIELDS=["first_name", "is_staff"]),
        pytest.raises(SystemCheckError, match=r"useraccounts\.E010") as raised,
    ):
        call_command("check")
    assert "is_staff" in str(raised.value)
    assert "USERACCOUNTS_PROFILE_FIELDS" in str(raised.value)


@pytest.mark.parametrize("name", [*FORBIDDEN, "username_field"])
def test_each_forbidden_profile_field_is_reported(name):
    if name == "username_field":  # "username", or "email" on a model without one
        name = get_user_model().USERNAME_FIELD
    found = messages(USERACCOUNTS_PROFILE_FIELDS=["first_name", name])
    assert isinstance(found["useraccounts.E010"], checks.Error)
    assert repr(name) in found["useraccounts.E010"].msg
    assert "USERACCOUNTS_PROFILE_FIELDS" in found["useraccounts.E010"].hint


def test_every_forbidden_profile_field_gets_its_own_error():
    with override_settings(**PRODUCTION, USERACCOUNTS_PROFILE_FIELDS=["is_staff", "password"]):
        errors = [m for m in checks.run_checks() if m.id == "useraccounts.E010"]
    assert any("'is_staff'" in e.msg for e in errors)
    assert any("'password'" in e.msg for e in errors)
    assert len(errors) == 2


def test_the_forbidden_set_follows_the_user_model():
    User = get_user_model()
    forbidden = forbidden_profile_fields(User)
    assert {User.USERNAME_FIELD, User.get_email_field_name()} <= forbidden
    assert forbidden >= FORBIDDEN_PROFILE_FIELDS
    assert set(FORBIDDEN) <= forbidden


@pytest.mark.parametrize("fields", [None, [], ["first_name", "last_name"], ["last_name"]])
def test_harmless_profile_fields_pass(fields):
    assert "useraccounts.E010" not in messages(USERACCOUNTS_PROFILE_FIELDS=fields)
    with override_settings(USERACCOUNTS_PROFILE_FIELDS=fields):
        call_command("check")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "posted"),
    [("is_staff", "on"), ("is_superuser", "on"), ("email", "eve@evil.example")],
)
def test_a_user_cannot_edit_a_forbidden_field_even_when_listed(client, field, posted):
    """The check stops a deployment; this is the second lock, for one that silenced it."""
    user = create_account("bob", "bob@example.com")
    client.force_login(user)
    with override_settings(USERACCOUNTS_PROFILE_FIELDS=["first_name", field]):
        client.post(
            reverse("useraccounts:account"), {"first_name": "Bob", field: posted}, follow=True
        )
    user.refresh_from_db()
    assert not user.is_staff
    assert not user.is_superuser
    assert user.email == "bob@example.com"
