"""A logged-in user changes their password, or sets one on an account that has none."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account
from useraccounts.exceptions import PasswordChangeError
from useraccounts.manager import get_account_manager

pytestmark = pytest.mark.django_db
CHANGE = reverse("useraccounts:password_change")
NEW = "a brand new passphrase"


def change(client, old=PASSWORD, new=NEW, again=None):
    data = {"old_password": old, "new_password1": new, "new_password2": again or new}
    return client.post(CHANGE, data)


def test_change_keeps_this_session_and_ends_the_others(logged_in, account, signals):
    elsewhere = Client()
    elsewhere.force_login(account)
    page = logged_in.get(CHANGE)
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'name="{name}"' in page.content.decode()
    assert 'autocomplete="current-password"' in page.content.decode()
    response = change(logged_in)
    assert response.status_code == 302
    assert response["Location"] == reverse("useraccounts:password_change_done")
    assert signals.names() == ["user_password_checked", "user_password_set", "password_changed"]
    signals.assert_once("user_password_checked", user=account, success=True)
    signals.assert_once("user_password_set", user=account)
    signals.assert_once("password_changed", user=account)
    account.refresh_from_db()
    assert account.check_password(NEW)
    assert logged_in.get(reverse("useraccounts:password_change_done")).status_code == 200
    assert elsewhere.get(CHANGE).status_code == 302  # logged out
    signals.assert_no_secret(PASSWORD, NEW)


def test_wrong_current_password(logged_in, account, signals):
    response = change(logged_in, old="not my password")
    assert response.status_code == 200
    assert "Your current password is not correct" in str(
        response.context["form"].errors["old_password"]
    )
    signals.assert_once("user_password_checked", user=account, success=False)
    assert "password_changed" not in signals.names()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "again", "field", "text"),
    [
        ("12345678", None, "new_password1", "too common"),
        (NEW, NEW + "!", "new_password2", "Type the same password"),
        ("bob", None, "new_password1", "too short"),
    ],
)
def test_a_refused_new_password(logged_in, account, signals, new, again, field, text):
    response = change(logged_in, new=new, again=again)
    assert response.status_code == 200
    assert text in str(response.context["form"].errors[field])
    assert "password_changed" not in signals.names()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_set_a_password_on_an_account_without_one(client, signals):
    user = create_account()
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    page = client.get(CHANGE)
    assert 'name="old_password"' not in page.content.decode()
    assert "has no password yet" in page.content.decode()
    response = client.post(CHANGE, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    assert signals.names() == ["user_password_set", "password_set"]
    signals.assert_once("password_set", user=user)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert client.get(reverse("useraccounts:password_change_done")).status_code == 200


def test_set_password_refuses_an_account_that_has_one(account, signals):
    with pytest.raises(PasswordChangeError) as raised:
        get_account_manager().set_password(None, account, new_password=NEW)
    assert raised.value.code == "validation_error"
    assert "already has a password" in str(raised.value.message)
    signals.assert_once(
        "password_change_failed",
        request=None,
        user=account,
        error_type="validation_error",
        exception=PasswordChangeError,
    )


def test_login_is_required(client, db):
    response = client.get(CHANGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("useraccounts:login"))
    assert client.get(reverse("useraccounts:password_change_done")).status_code == 302


def test_changes_per_user_are_rate_limited(logged_in, settings, clock):
    settings.USERACCOUNTS_RATE_LIMITS = {"change_password": "2/m/user"}
    change(logged_in, old="wrong one")
    change(logged_in, old="wrong two")
    limited = change(logged_in)
    assert limited.status_code == 429
    clock.advance(60)
    assert change(logged_in).status_code == 302


def test_hasher_failures_send_their_signals(logged_in, account, settings, signals):
    type(account).objects.filter(pk=account.pk).update(password="broken$salt$hash")
    account.refresh_from_db()
    logged_in.force_login(account)  # the session followed the old hash
    response = change(logged_in, old="anything")
    assert "Something went wrong on our side" in response.content.decode()
    signals.assert_once("user_password_check_failed", user=account, exception=RuntimeError)


def test_a_hasher_that_cannot_hash_sends_password_set_failed(
    logged_in, account, settings, signals
):
    settings.PASSWORD_HASHERS = ["tests.hashers.BrokenHasher", "tests.hashers.CountingMD5Hasher"]
    response = change(logged_in)
    assert response.status_code == 200
    assert "Something went wrong on our side" in response.content.decode()
    signals.assert_once("user_password_set_failed", user=account, exception=RuntimeError)
    assert "password_changed" not in signals.names()


def test_change_needs_csrf(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert change(client).status_code == 403
    account.refresh_from_db()
    assert account.check_password(PASSWORD)
