"""The account page and account deletion, as a logged-in user lives them."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account
from useraccounts import signals as ua_signals
from useraccounts.exceptions import UserDeletionError, UserUpdateError
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
ACCOUNT = reverse("useraccounts:account")
DELETE = reverse("useraccounts:account_delete")


def test_edit_the_profile(logged_in, account, signals):
    page = logged_in.get(ACCOUNT)
    assert page.status_code == 200
    for name in ("first_name", "last_name"):
        assert f'name="{name}"' in page.content.decode()
    assert 'name="password"' not in page.content.decode()
    response = logged_in.post(ACCOUNT, {"first_name": "Bob", "last_name": "Builder"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.first_name, account.last_name) == ("Bob", "Builder")
    data = {"first_name": "Bob", "last_name": "Builder"}
    assert signals.names() == ["user_update_started", "user_updated"]
    signals.assert_once("user_update_started", user_id=account.pk, update_data=data)
    signals.assert_once("user_updated", user=account, update_data=data)


def test_a_too_long_name_is_a_validation_error(logged_in, account, signals):
    response = logged_in.post(ACCOUNT, {"first_name": "x" * 151, "last_name": ""})
    assert response.status_code == 200
    assert "at most 150 characters" in str(response.context["form"].errors["first_name"])
    signals.assert_once(
        "user_update_failed",
        user_id=account.pk,
        update_data={"first_name": "x" * 151, "last_name": ""},
        error_type="validation_error",
        exception=Exception,
        user=account,
    )
    account.refresh_from_db()
    assert account.first_name == ""


def test_update_data_never_holds_a_password(account, signals):
    with pytest.raises(UserUpdateError) as raised:
        get_account_manager().update_user(
            None, account, {"first_name": "Eve", "password": "hunter2", "new_password1": "x"}
        )
    assert raised.value.code == "validation_error"
    for name in ("user_update_started", "user_update_failed"):
        assert signals.one(name)["update_data"] == {"first_name": "Eve"}
    signals.assert_no_secret("hunter2")
    account.refresh_from_db()
    assert account.first_name == ""


def test_profile_fields_setting(logged_in, account, settings):
    settings.USERACCOUNTS_PROFILE_FIELDS = ["last_name", "is_superuser", "no_such_field"]
    page = logged_in.get(ACCOUNT)
    assert 'name="last_name"' in page.content.decode()
    assert 'name="first_name"' not in page.content.decode()
    assert 'name="is_superuser"' not in page.content.decode()  # never editable here
    logged_in.post(ACCOUNT, {"last_name": "Only", "is_superuser": "on"})
    account.refresh_from_db()
    assert account.last_name == "Only" and not account.is_superuser


def test_updating_a_deleted_user_is_user_not_found(account, signals):
    get_user_model().objects.filter(pk=account.pk).delete()
    with pytest.raises(UserUpdateError) as raised:
        get_account_manager().update_user(None, account, {"first_name": "Ghost"})
    assert raised.value.code == "user_not_found"
    assert signals.one("user_update_failed")["error_type"] == "user_not_found"


@pytest.mark.parametrize(
    ("failure", "error_type"), [("raise", "unexpected_exception"), ("sql", "repository_error")]
)
def test_a_failure_while_saving_rolls_the_update_back(
    logged_in, account, signals, failing_receiver, failure, error_type
):
    failing_receiver(ua_signals.user_updated, failure)
    response = logged_in.post(ACCOUNT, {"first_name": "Bob", "last_name": ""})
    assert "Something went wrong on our side" in response.content.decode()
    assert signals.one("user_update_failed")["error_type"] == error_type
    account.refresh_from_db()
    assert account.first_name == ""


def test_pages_need_login(client, db):
    for url in (ACCOUNT, DELETE, reverse("useraccounts:email")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_delete_the_account(logged_in, account, signals, hash_count):
    elsewhere = Client()
    elsewhere.force_login(account)
    page = logged_in.get(DELETE)
    assert 'autocomplete="current-password"' in page.content.decode()
    before = hash_count()
    response = logged_in.post(DELETE, {"password": PASSWORD})
    assert hash_count() - before == 1
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=account.pk).exists()
    assert not EmailAddress.objects.exists()
    assert "_auth_user_id" not in logged_in.session
    assert elsewhere.get(ACCOUNT).status_code == 302
    assert signals.names() == ["user_deletion_started", "user_password_checked", "user_deleted"]
    signals.assert_once("user_deletion_started", user_id=account.pk)
    signals.assert_once("user_deleted", user_id=account.pk, username=account.get_username())


def test_a_wrong_password_deletes_nothing(logged_in, account, signals):
    response = logged_in.post(DELETE, {"password": "not it"})
    assert response.status_code == 200
    assert "That is not your password" in str(response.context["form"].errors["password"])
    signals.assert_once(
        "user_deletion_failed",
        user_id=account.pk,
        username=account.get_username(),
        error_type="incorrect_password",
        exception=UserDeletionError,
    )
    assert get_user_model().objects.filter(pk=account.pk).exists()
    assert "_auth_user_id" in logged_in.session


def test_deactivate_mode_keeps_the_rows(logged_in, account, settings, signals):
    settings.USERACCOUNTS_DELETE_MODE = "deactivate"
    logged_in.post(DELETE, {"password": PASSWORD})
    account.refresh_from_db()
    assert not account.is_active
    assert EmailAddress.objects.filter(user=account).exists()
    signals.assert_once("user_deleted", user_id=account.pk, username=account.get_username())
    response = Client().post(
        reverse("useraccounts:login"), {"login": account.email, "password": PASSWORD}
    )
    assert "This account is inactive" in response.content.decode()


@pytest.mark.parametrize(
    ("failure", "error_type"), [("raise", "unexpected_exception"), ("sql", "repository_error")]
)
def test_a_failure_while_deleting_rolls_back(
    logged_in, account, signals, failing_receiver, failure, error_type
):
    failing_receiver(ua_signals.user_deleted, failure)
    response = logged_in.post(DELETE, {"password": PASSWORD})
    assert "Something went wrong on our side" in response.content.decode()
    signals.assert_once(
        "user_deletion_failed",
        user_id=account.pk,
        username=account.get_username(),
        error_type=error_type,
        exception=Exception,
    )
    assert get_user_model().objects.filter(pk=account.pk).exists()
    assert EmailAddress.objects.filter(user=account).exists()
    assert "_auth_user_id" in logged_in.session


def test_deleting_a_deleted_user_is_user_not_found(account, signals):
    get_user_model().objects.filter(pk=account.pk).delete()
    with pytest.raises(UserDeletionError) as raised:
        get_account_manager().delete_user(None, account, password=PASSWORD)
    assert raised.value.code == "user_not_found"
    signals.assert_once(
        "user_deletion_failed",
        request=None,
        user_id=account.pk,
        username=account.get_username(),
        error_type="user_not_found",
        exception=UserDeletionError,
    )


def test_delete_needs_csrf(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert client.post(DELETE, {"password": PASSWORD}).status_code == 403
    assert get_user_model().objects.filter(pk=account.pk).exists()


def test_another_user_is_untouched(logged_in, account):
    other = create_account("carol", "carol@example.com")
    logged_in.post(DELETE, {"password": PASSWORD})
    assert get_user_model().objects.filter(pk=other.pk).exists()
