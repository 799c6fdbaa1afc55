"""Faults of the infrastructure through the JSON API: a database, cache or email backend
that fails is answered 503 with ``Retry-After`` in the error shape, never 500 and never
a success that did nothing, and the operation's failure signal carries
``repository_error`` or ``email_send_failed`` (the faults are real: see ``Faults`` in
``conftest.py``). A fault met after an API view answered (Django's session middleware
saving the session) reaches ``handler500``: the app's ``server_error`` answers it in the
same JSON shape, and keeps the HTML 503 page for every other URL."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client, RequestFactory
from django.urls import include, path, resolve

from tests.conftest import PASSWORD, link_in, login_name, user_table
from tests.test_api import (
    NEW,
    app_login,
    call,
    codes,
    get,
    post,
    reset_parts,
    url,
)
from tests.test_story import signup_data
from useraccounts.error_views import server_error
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db

#: A URLconf (for ``ROOT_URLCONF``) that includes the API under an instance namespace of
#: its own, beside the HTML pages.
urlpatterns = [
    path("v2/", include("useraccounts.api.urls", namespace="accounts_v2")),
    path("accounts/", include("useraccounts.urls")),
]


def assert_unavailable(response, code: str = "repository_error") -> None:
    assert codes(response, 503) == [(code, None)]
    assert response["Retry-After"] == "30"


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
        response = post(client, "signup", signup_data())
    assert_unavailable(response, error_type)
    assert signals.one("user_registration_failed")["error_type"] == error_type
    assert get_user_model().objects.count() == EmailAddress.objects.count() == 0


def test_a_signup_that_cannot_start_its_session_says_the_account_exists(faults, settings):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = "optional"
    with faults.database(r'SET "last_login"'):
        response = post(Client(), "signup", signup_data())
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


# --- handler500: a fault after an API view answered ---------------------------------------


def handled(request, exception: Exception):
    """What ``server_error`` answers for ``request``, as Django calls it: while
    ``exception`` is being handled (with the test client's ``json()``)."""
    try:
        raise exception
    except type(exception):
        response = server_error(request)
    response.json = lambda: json.loads(response.content)
    return response


def is_html_503(response) -> bool:
    page = response.content.decode()
    return (
        response.status_code == 503
        and response["Content-Type"].startswith("text/html")
        and "Temporarily unavailable" in page
        and response["Retry-After"] == "30"
    )


@pytest.mark.django_db(transaction=True)
def test_a_session_fault_after_an_api_view_answered_is_a_json_503_through_handler500(
    account, faults, caplog
):
    """A browser's login through the API: its new session is saved by Django's
    SessionMiddleware once the view has answered, where only ``handler500`` sees a
    fault. The demo site sets ours, as the README says."""
    client = Client(raise_request_exception=False)
    body = {"login": login_name(account), "password": PASSWORD}
    with (
        faults.database(r'^INSERT INTO "django_session"') as failed,
        caplog.at_level(logging.ERROR),
    ):
        response = post(client, "login", body)
    assert failed, "the session was saved after the view"
    assert_unavailable(response)
    assert "Internal Server Error" not in caplog.text
    assert "Service Unavailable" in caplog.text  # Django's log line, with the traceback
    assert get(client, "session").status_code == 401  # nobody is logged in
    assert post(client, "login", body).status_code == 200  # and once it is back, all is well


def test_handler500_answers_as_the_apis_own_views_do(account, faults):
    """The same body and headers as an API view's own 503 (here the session store down
    while the view serves an app's token): one builder, one shape."""
    token = app_login(Client(), account)
    with faults.database(r'FROM "django_session"') as failed:
        own = get(Client(), "session", token=token)
    assert failed
    assert_unavailable(own)
    answer = handled(RequestFactory().get(url("session")), OperationalError("down"))
    assert_unavailable(answer)
    assert answer.json() == own.json()
    assert answer["Content-Type"] == own["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "api"),
    [
        (url("login"), True),
        (url("password_reset_confirm"), True),
        ("/accounts/login/", False),
        ("/", False),
        ("/no/such/page", False),
    ],
)
def test_server_error_answers_in_json_for_api_urls_only(path, api):
    """Resolved from the path where Django got no further than a middleware."""
    response = handled(RequestFactory().post(path), OperationalError("down"))
    if api:
        assert_unavailable(response)
    else:
        assert is_html_503(response), response.content[:300]


def test_the_url_django_resolved_decides():
    api_match, page_match = resolve(url("session")), resolve("/accounts/login/")
    request = RequestFactory().get("/accounts/login/")
    request.resolver_match = api_match
    assert_unavailable(handled(request, OperationalError("down")))
    request = RequestFactory().get(url("session"))
    request.resolver_match = page_match
    assert is_html_503(handled(request, OperationalError("down")))


def test_the_api_under_another_namespace_still_answers_json(settings):
    settings.ROOT_URLCONF = __name__
    assert_unavailable(handled(RequestFactory().get("/v2/session"), OperationalError("down")))


def test_a_bug_on_an_api_url_keeps_djangos_500():
    """Only outages are 503s: a bug stays a 500, and stays loud."""
    response = handled(RequestFactory().get(url("session")), KeyError("a bug"))
    assert response.status_code == 500
    assert "Retry-After" not in response
