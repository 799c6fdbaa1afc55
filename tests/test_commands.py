"""Operators' commands: confirm one address; bring in users from before the install."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def legacy_user(name, email):
    """A user made before useraccounts was installed: no EmailAddress row."""
    User = get_user_model()
    fields = {"email": email, "password": PASSWORD}
    if has_username():
        fields["username"] = name
    return User.objects.create_user(**fields)


def test_verify_email(signals):
    user = create_account(verified=False)
    assert "bob@example.com (" in run("useraccounts_verify_email", "BOB@example.com")
    address = EmailAddress.objects.get()
    assert address.verified
    signals.assert_once("email_confirmed", request=None, user=user, email_address=address)
    assert "was already verified" in run("useraccounts_verify_email", "bob@example.com")
    assert len(signals.of("email_confirmed")) == 1


def test_verify_email_where_several_accounts_wait_for_the_address(signals):
    first = create_account("first", "first@example.com")
    second = create_account("second", "second@example.com")
    for user in (first, second):
        EmailAddress.objects.create(user=user, email="shared@example.com")
    with pytest.raises(CommandError, match=r"Several accounts wait for shared@example\.com"):
        run("useraccounts_verify_email", "shared@example.com")
    login = second.get_username()
    assert "is now verified" in run(
        "useraccounts_verify_email", "shared@example.com", "--user", login
    )
    assert [
        (row.user, row.verified) for row in EmailAddress.objects.filter(email="shared@example.com")
    ] == [(second, True)]
    removed = signals.one("email_removed")
    assert (removed["user"], removed["email_address"].email) == (first, "shared@example.com")


def test_verify_email_of_an_unknown_address():
    with pytest.raises(CommandError, match=r"No account has the address nobody@example\.com"):
        run("useraccounts_verify_email", "nobody@example.com")


def test_users_from_before_the_install_log_in_at_once_and_reset_after_sync(mailoutbox, signals):
    old = legacy_user("olga", "Olga@Example.com")
    later = legacy_user("paul", "Paul@Example.com")
    legacy_user("nomail", "")
    client = Client()
    # No row yet: the user record's own email logs in, in any case, and becomes a
    # verified row (the site wrote it, not a visitor).
    login = {"login": "OLGA@example.com", "password": PASSWORD}
    assert client.post(reverse("useraccounts:login"), login).status_code == 302
    adopted = EmailAddress.objects.get(user=old)
    assert (adopted.email, adopted.primary, adopted.verified) == ("olga@example.com", True, True)
    signals.assert_once("email_added", user=old, email_address=adopted)
    client.logout()

    out = run("useraccounts_sync_emails")
    assert "Created 1 address row(s)." in out
    assert "Skipped 1 user(s) whose email is empty" in out
    address = EmailAddress.objects.get(user=later)
    assert (address.email, address.primary, address.verified) == ("paul@example.com", True, True)
    login = {"login": "paul@example.com", "password": PASSWORD}
    assert client.post(reverse("useraccounts:login"), login).status_code == 302
    client.logout()
    client.post(reverse("useraccounts:password_reset"), {"email": "paul@example.com"})
    form_url = client.get(link_in(mailoutbox[0]))["Location"]
    new = "a brand new passphrase"
    client.post(form_url, {"new_password1": new, "new_password2": new})
    later.refresh_from_db()
    assert later.check_password(new)


def test_sync_is_idempotent_and_skips_taken_addresses():
    create_account("bob", "bob@example.com")
    legacy_user("first", "same@example.com")
    if has_username():  # a custom model with a unique email cannot have this clash
        legacy_user("second", "SAME@example.com")
    out = run("useraccounts_sync_emails")
    assert "Created 1 address row(s)." in out
    if has_username():
        assert "Skipped 1 user(s) whose address another account already has" in out
    assert EmailAddress.objects.count() == 2
    again = run("useraccounts_sync_emails")
    assert "Created 0 address row(s)." in again
    assert EmailAddress.objects.count() == 2


def test_sync_unverified_leaves_confirmation_to_the_users():
    legacy_user("olga", "olga@example.com")
    run("useraccounts_sync_emails", "--unverified")
    assert not EmailAddress.objects.get().verified
    response = Client().post(
        reverse("useraccounts:login"), {"login": "olga@example.com", "password": PASSWORD}
    )
    assert "Confirm your email address" in response.content.decode()


def test_tune_argon2_prints_working_settings():
    out = run("useraccounts_tune_argon2", "--target-ms", "5", "--memory-mib", "8", "--rounds", "1")
    params = dict(re.findall(r"^        (\w+) = (\d+)$", out, re.M))
    assert set(params) == {"time_cost", "memory_cost", "parallelism"}
    assert "PASSWORD_HASHERS" in out and "TunedArgon2PasswordHasher" in out
    tuned = type("Tuned", (Argon2PasswordHasher,), {k: int(v) for k, v in params.items()})()
    encoded = tuned.encode("a password", tuned.salt())
    assert tuned.verify("a password", encoded)
    assert f"t={params['time_cost']}" in encoded and f"m={params['memory_cost']}" in encoded


def test_tune_argon2_refuses_nonsense():
    with pytest.raises(CommandError, match="must be positive"):
        run("useraccounts_tune_argon2", "--target-ms", "0")
