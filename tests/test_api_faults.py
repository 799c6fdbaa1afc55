"""Faults of the infrastructure through the JSON API: a database, cache or email backend
that fails is answered 503 with ``Retry-After`` in the error shape, never 500 and never
a success that did nothing, and the operation's failure signal carries
``repository_error`` or ``email_send_failed`` (the faults are real: see ``Faults`` in
``conftest.py``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import PASSWORD, link_in
from tests.test_api import NEW, call, codes, post, reset_parts, signup_body
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db


def assert_unavailable(response, code: str = "repository_error") -> None:
    assert codes(response, 503) == [(code, None)]
    assert response["Retry-After"] == "30"


def user_table() -> str:
    return get_user_model()._meta.db_table


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("database", "repository_error"),
        ("cache", "repository_error"),
        ("email", "email_send_failed"),
    ],
)
def test_signup_meets_a_fault(client, faults, signals, mailoutbox, fault, error_type):
    context = faults.database(rf'INSERT INTO "{user_table()}"') if fault == "database" else None
    with context or getattr(faults, fault)():
        response = post(client, "signup", signup_body())
    assert_unavailable(response, error_type)
    assert signals.one("user_registration_failed")["error_type"] == error_type
    assert get_user_model().objects.count() == EmailAddress.objects.count() == 0


def test_a_signup_that_cannot_start_its_session_says_the_account_exists(faults, settings):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = "optional"
    with faults.database(r'SET "last_login"'):
        response = post(Client(), "signup", signup_body())
    assert codes(response, 503)[0][0] == "repository_error"
    assert "account is created" in response.json()["errors"][0]["message"]
    assert get_user_model().objects.count() == 1


def test_a_reset_through_the_link_meets_the_database_down(account, faults, signals, mailoutbox):
    get_account_manager().request_password_reset(None, email="bob@example.com")
    uidb64, token = reset_parts(link_in(mailoutbox[-1]))
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    with faults.database(rf'UPDATE "{user_table()}"'):
        response = post(Client(), "password_reset_confirm", body)
    assert_unavailable(response)
    assert signals.one("password_reset_failed")["error_type"] == "repository_error"
    assert post(Client(), "password_reset_confirm", body).status_code == 200  # still good


@pytest.mark.parametrize(
    ("method", "name", "body", "signal"),
    [
        (
            "POST",
            "password_change",
            {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
            "password_change_failed",
        ),
        ("PATCH", "profile", {"first_name": "Bob"}, "user_update_failed"),
        ("POST", "account_delete", {"password": PASSWORD}, "user_deletion_failed"),
    ],
)
def test_the_logged_in_operations_meet_the_database_down(
    account, faults, signals, method, name, body, signal
):
    client = Client()
    client.force_login(account)
    with faults.database(rf'^\s*(UPDATE|DELETE FROM) "{user_table()}"'):
        response = call(client, method, name, body)
    assert_unavailable(response)
    assert signals.one(signal)["error_type"] == "repository_error"
    account.refresh_from_db()
    assert account.check_password(PASSWORD) and account.first_name == ""


def test_adding_addresses_is_rate_limited(account, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_email": "1/h/user"}
    client = Client()
    client.force_login(account)
    assert post(client, "email", {"email": "one@example.com"}).status_code == 201
    response = post(client, "email", {"email": "two@example.com"})
    assert codes(response, 429) == [("rate_limited", None)]
    assert int(response["Retry-After"]) > 0
    assert signals.one("email_address_failed")["error_type"] == "rate_limited"
