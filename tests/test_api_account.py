"""The JSON API's account endpoints: profile, deletion and email addresses, for both
client kinds, each refusal in the error shape with its status and failure signal."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD, create_account, link_in, login_name
from tests.test_api import call, codes, csrf_client, get, post, token_of
from useraccounts import signals as ua_signals
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
LOGGED_IN_ONLY = [
    ("GET", "profile"),
    ("PATCH", "profile"),
    ("POST", "account_delete"),
    ("GET", "email"),
    ("POST", "email"),
    ("POST", "email_remove"),
    ("POST", "email_primary"),
    ("POST", "email_send"),
]


@pytest.fixture
def browser(account):
    client = Client()
    client.force_login(account)
    return client


@pytest.fixture
def app_token(account):
    body = {"login": login_name(account), "password": PASSWORD, "client": "app"}
    return post(Client(), "login", body).json()["session_token"]


@pytest.mark.parametrize(("method", "name"), LOGGED_IN_ONLY)
def test_account_endpoints_need_a_login(client, method, name, signals):
    response = call(client, method, name, {"email": "a@example.com", "password": PASSWORD})
    assert codes(response, 401) == [("not_authenticated", None)]
    assert signals.names() == []


# --- profile -----------------------------------------------------------------------------


def test_profile_reads_and_patches_with_either_client(browser, app_token, account, signals):
    assert get(browser, "profile").json() == {"profile": {"first_name": "", "last_name": ""}}
    response = call(browser, "PATCH", "profile", {"first_name": "Bob"})
    assert response.status_code == 200
    assert response.json() == {"profile": {"first_name": "Bob", "last_name": ""}}
    signals.assert_once("user_updated", user=account, update_data={"first_name": "Bob"})
    response = call(Client(), "PATCH", "profile", {"last_name": "Builder"}, token=app_token)
    assert response.json() == {"profile": {"first_name": "Bob", "last_name": "Builder"}}
    account.refresh_from_db()
    assert (account.first_name, account.last_name) == ("Bob", "Builder")


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"is_staff": True}, [("validation_error", None)]),
        ({"email": "new@example.com"}, [("validation_error", None)]),
        ({"first_name": "x" * 500}, [("validation_error", "first_name")]),
        ({"first_name": "a\x00b"}, [("validation_error", "first_name")]),
    ],
)
def test_a_refused_profile_change_saves_nothing(browser, account, body, found, signals):
    response = call(browser, "PATCH", "profile", body)
    assert codes(response, 400) == found
    assert signals.one("user_update_failed")["error_type"] == "validation_error"
    account.refresh_from_db()
    assert not account.is_staff and account.first_name == ""


@pytest.mark.parametrize("value", [["Bob"], {"a": 1}])
def test_a_profile_value_that_is_not_a_scalar_is_400(browser, value, signals):
    response = call(browser, "PATCH", "profile", {"first_name": value})
    assert codes(response, 400) == [("validation_error", "first_name")]
    assert signals.names() == []


def test_a_browser_patch_needs_the_csrf_token(account):
    client, csrf = csrf_client()
    client.force_login(account)
    assert codes(call(client, "PATCH", "profile", {"first_name": "X"}), 403) == [
        ("csrf_failed", None)
    ]
    # force_login rotated the token: fetch it again, as a front end would.
    csrf = get(client, "csrf").json()["csrf_token"]
    response = call(client, "PATCH", "profile", {"first_name": "X"}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200


# --- deletion ----------------------------------------------------------------------------


def test_deleting_with_a_token_ends_it(account, app_token, signals):
    client = Client()
    wrong = post(client, "account_delete", {"password": "wrong"}, token=app_token)
    assert codes(wrong, 403) == [("incorrect_password", "password")]
    assert signals.one("user_deletion_failed")["error_type"] == "incorrect_password"
    assert (
        post(client, "account_delete", {"password": PASSWORD}, token=app_token).status_code == 204
    )
    signals.assert_once("user_deleted", user_id=account.pk, username=account.get_username())
    assert not get_user_model().objects.filter(pk=account.pk).exists()
    assert not Session.objects.filter(session_key=app_token).exists()
    assert get(client, "session", token=app_token).status_code == 401


def test_deactivating_through_the_browser_logs_out(browser, account, settings):
    settings.USERACCOUNTS_DELETE_MODE = "deactivate"
    assert post(browser, "account_delete", {"password": PASSWORD}).status_code == 204
    account.refresh_from_db()
    assert not account.is_active
    assert get(browser, "session").status_code == 401


def test_deletion_is_rate_limited_and_validated(browser, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"delete_account": "1/15m/user"}
    assert codes(post(browser, "account_delete", {}), 400) == [("validation_error", "password")]
    post(browser, "account_delete", {"password": "wrong"})
    response = post(browser, "account_delete", {"password": PASSWORD})
    assert codes(response, 429) == [("rate_limited", None)]
    sent = [kw["error_type"] for kw in signals.of("user_deletion_failed")]
    assert sent == ["incorrect_password", "rate_limited"]


# --- email addresses ---------------------------------------------------------------------


def test_add_confirm_make_primary_and_remove_an_address(browser, account, mailoutbox, signals):
    response = post(browser, "email", {"email": "New@Example.com"})
    assert response.status_code == 201
    assert response.json() == {
        "email_addresses": [
            {"email": "bob@example.com", "verified": True, "primary": True},
            {"email": "new@example.com", "verified": False, "primary": False},
        ]
    }
    signals.assert_once("email_added", user=account, email_address=EmailAddress)
    assert "useraccounts_confirm" in response.cookies

    not_yet = post(browser, "email_primary", {"email": "new@example.com"})
    assert codes(not_yet, 409) == [("not_verified", None)]

    response = post(browser, "email_send", {"email": "new@example.com"})
    assert response.status_code == 200 and len(mailoutbox) == 2
    token = token_of(link_in(mailoutbox[-1]))
    assert post(browser, "confirm_email", {"token": token}).status_code == 200

    again = post(browser, "email_send", {"email": "new@example.com"})
    assert codes(again, 409) == [("already_verified", None)]
    assert signals.of("email_confirmation_send_failed")[-1]["error_type"] == "already_verified"

    response = post(browser, "email_primary", {"email": "new@example.com"})
    assert response.status_code == 200
    assert response.json()["email_addresses"][0] == {
        "email": "new@example.com",
        "verified": True,
        "primary": True,
    }
    signals.assert_once(
        "email_changed",
        user=account,
        from_email_address=EmailAddress,
        to_email_address=EmailAddress,
    )
    primary = post(browser, "email_remove", {"email": "new@example.com"})
    assert codes(primary, 409) == [("is_primary", None)]
    response = post(browser, "email_remove", {"email": "bob@example.com"})
    assert [a["email"] for a in response.json()["email_addresses"]] == ["new@example.com"]
    signals.assert_once("email_removed", user=account, email_address=EmailAddress)


def test_address_refusals_have_their_codes(browser, account, settings, signals):
    assert codes(post(browser, "email", {"email": "bob@example.com"}), 409) == [
        ("already_yours", None)
    ]
    assert codes(post(browser, "email_remove", {"email": "x@example.com"}), 404) == [
        ("not_yours", None)
    ]
    assert codes(post(browser, "email_primary", {"email": "x@example.com"}), 404) == [
        ("not_yours", None)
    ]
    assert codes(post(browser, "email", {"email": "nope"}), 400) == [("validation_error", "email")]
    settings.USERACCOUNTS_MAX_EMAIL_ADDRESSES = 1
    assert codes(post(browser, "email", {"email": "two@example.com"}), 409) == [
        ("limit_reached", None)
    ]
    sent = [(kw["action"], kw["error_type"]) for kw in signals.of("email_address_failed")]
    assert sent == [
        ("add", "validation_error"),
        ("remove", "not_found"),
        ("primary", "not_found"),
        ("add", "limit_reached"),
    ]


def test_the_last_verified_address_stays(account, signals):
    EmailAddress.objects.filter(user=account).update(primary=False)
    EmailAddress.objects.create(user=account, email="other@example.com", primary=True)
    client = Client()
    client.force_login(account)
    response = post(client, "email_remove", {"email": "bob@example.com"})
    assert codes(response, 409) == [("last_verified", None)]


def test_an_undeliverable_address_is_409(browser, account, signals):
    EmailAddress.objects.create(user=account, email="bounce@example.com", undeliverable=True)
    response = post(browser, "email_send", {"email": "bounce@example.com"})
    assert codes(response, 409) == [("undeliverable", None)]
    assert signals.one("email_address_failed")["error_type"] == "undeliverable"


def test_an_address_verified_elsewhere_is_added_as_any_other(browser, mailoutbox):
    create_account("holder", "taken@example.com")
    taken = post(browser, "email", {"email": "taken@example.com"})
    free = post(browser, "email", {"email": "free@example.com"})
    assert taken.status_code == free.status_code == 201
    assert {"email": "taken@example.com", "verified": False, "primary": False} in taken.json()[
        "email_addresses"
    ]


def test_an_address_action_meets_the_email_backend_down(browser, faults, signals):
    with faults.email():
        response = post(browser, "email", {"email": "new@example.com"})
    assert codes(response, 503) == [("email_send_failed", None)]
    assert response["Retry-After"] == "30"
    assert not EmailAddress.objects.filter(email="new@example.com").exists()


def test_an_address_action_meets_the_database_down(browser, faults, signals):
    with faults.database(r'INSERT INTO "useraccounts_emailaddress"'):
        response = post(browser, "email", {"email": "new@example.com"})
    assert codes(response, 503) == [("repository_error", None)]


def test_an_app_manages_its_addresses_with_the_token(app_token, account, signals):
    client = Client(enforce_csrf_checks=True)
    assert post(client, "email", {"email": "n@example.com"}, token=app_token).status_code == 201
    listed = get(client, "email", token=app_token).json()["email_addresses"]
    assert [a["email"] for a in listed] == ["bob@example.com", "n@example.com"]


def test_a_receiver_failing_is_500_in_the_error_shape(browser, signals, failing_receiver):
    failing_receiver(ua_signals.email_added, "raise")
    response = post(browser, "email", {"email": "new@example.com"})
    assert codes(response, 500) == [("unexpected_exception", None)]
