"""Every error code the OpenAPI document lists for an operation, answered by that
operation in a test that asserts the status, the body and the signals sent: here, those
the other ``test_api_*`` modules do not reach (``tests/api_codes.py`` fails a whole-suite
run while one is missing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse, JsonResponse
from django.test import Client, RequestFactory
from django.urls import resolve, reverse

from tests.api_codes import SUCCESS, Recorder, load_document, route_paths
from tests.conftest import PASSWORD, create_account, link_in, login_name, user_table
from tests.test_api import (
    NEW,
    app_login,
    call,
    codes,
    errors_of,
    post,
    reset_parts,
    token_of,
    url,
)
from useraccounts import signals as ua_signals
from useraccounts.conf import app_settings
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db

DOCUMENT = load_document()
NAMES = {path: name for name, path in route_paths().items()}
#: (method, URL name) of every operation, and of those that read a JSON body.
OPERATIONS = [
    (method.upper(), NAMES[path])
    for path, methods in DOCUMENT["paths"].items()
    for method in methods
]
BODY_OPERATIONS = [
    (method.upper(), NAMES[path])
    for path, methods in DOCUMENT["paths"].items()
    for method, spec in methods.items()
    if "requestBody" in spec
]
GET_OPERATIONS = [op for op in OPERATIONS if op[0] == "GET"]


def op_id(value: Any) -> str:
    return " ".join(value) if isinstance(value, tuple) else str(value)


def confirmation_token(mailoutbox, address: EmailAddress) -> str:
    get_account_manager().send_email_confirmation(None, address)
    return token_of(link_in(mailoutbox[-1]))


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- what every operation that reads a body refuses ------------------------------------------

UNREADABLE = {
    "invalid_json": ({"raw": b"{"}, 400, None),
    "request_too_large": ({"raw": b'{"a": "' + b"x" * 70_000 + b'"}'}, 400, None),
    "unsupported_media_type": ({"raw": b"{}", "content_type": "text/plain"}, 415, None),
    "validation_error": ({"data": {"client": "phone"}}, 400, "client"),
}


@pytest.mark.parametrize("code", sorted(UNREADABLE))
@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_a_body_that_cannot_be_served_is_refused_before_anything_runs(
    client, operation, code, signals
):
    method, name = operation
    kwargs, status, field = UNREADABLE[code]
    response = call(
        client,
        method,
        name,
        kwargs.get("data"),
        **{k: v for k, v in kwargs.items() if k != "data"},
    )
    assert codes(response, status) == [(code, field)]
    assert signals.names() == []


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_a_browser_without_its_csrf_token_is_refused_by_every_body_operation(
    account, operation, signals
):
    method, name = operation
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    response = call(client, method, name, {"email": "bob@example.com", "password": PASSWORD})
    assert codes(response, 403) == [("csrf_failed", None)]
    assert signals.names() == []


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", GET_OPERATIONS, ids=op_id)
def test_a_get_whose_session_store_fails_is_503(account, faults, settings, operation, signals):
    """An app's token whose session cannot be read, or saved (with
    ``SESSION_SAVE_EVERY_REQUEST``, even a request that needs no login saves it)."""
    method, name = operation
    settings.SESSION_SAVE_EVERY_REQUEST = True
    token = app_login(Client(), account)
    signals.clear()
    with faults.database(r'"django_session"') as failed:
        response = call(Client(), method, name, token=token)
    assert failed
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    assert signals.names() == []


def test_checking_a_confirmation_link_with_the_database_down_is_503(
    client, mailoutbox, faults, signals
):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirmation_token(mailoutbox, EmailAddress.objects.get(user=user))
    with faults.database(r'FROM "useraccounts_emailaddress"'):
        response = post(client, "confirm_email_check", {"token": token})
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    failed = signals.assert_once(
        "user_email_verification_failed",
        token_prefix=token[:10],
        error_type="repository_error",
        exception=Exception,
        user=None,
    )
    assert failed["exception"].__class__.__name__ == "OperationalError"


def test_checking_a_reset_link_with_the_database_down_is_503(
    client, account, mailoutbox, faults, signals
):
    get_account_manager().request_password_reset(None, email="bob@example.com")
    uidb64, token = reset_parts(link_in(mailoutbox[-1]))
    signals.clear()
    with faults.database(rf'FROM "{user_table()}"'):
        response = post(client, "password_reset_check", {"uidb64": uidb64, "token": token})
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    signals.assert_once(
        "password_reset_failed",
        token_prefix=token[:10],
        error_type="repository_error",
        exception=Exception,
        user=None,
    )


@pytest.mark.parametrize(
    ("name", "action"),
    [("email_remove", "remove"), ("email_primary", "primary"), ("email_send", "send")],
)
def test_an_address_action_with_the_database_down_is_503(account, faults, signals, name, action):
    EmailAddress.objects.create(user=account, email="second@example.com")
    client = logged_in_client(account)
    with faults.database(r'FROM "useraccounts_emailaddress"'):
        response = post(client, name, {"email": "second@example.com"})
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    signals.assert_once(
        "email_address_failed",
        user=account,
        email="second@example.com",
        action=action,
        error_type="repository_error",
        exception=Exception,
    )
    expected = ["email_address_failed"]
    if action == "send":
        expected.append("email_confirmation_send_failed")
        signals.assert_once(
            "email_confirmation_send_failed",
            email="second@example.com",
            user=account,
            error_type="repository_error",
            exception=Exception,
        )
    assert signals.names() == expected


def test_a_new_link_with_the_email_backend_down_is_503(account, faults, signals):
    EmailAddress.objects.create(user=account, email="second@example.com")
    client = logged_in_client(account)
    with faults.email():
        response = post(client, "email_send", {"email": "second@example.com"})
    assert codes(response, 503) == [("email_send_failed", None)]
    assert response["Retry-After"] == "30"
    assert signals.one("email_address_failed")["error_type"] == "email_send_failed"
    assert signals.one("email_confirmation_send_failed")["error_type"] == "email_send_failed"


# --- a receiver that raises: 500 in the error shape ----------------------------------------


def _login(user) -> tuple[Client, dict]:
    return Client(), {"login": login_name(user), "password": PASSWORD}


def _confirm(user, mailoutbox) -> tuple[Client, dict]:
    address = EmailAddress.objects.create(user=user, email="second@example.com")
    return logged_in_client(user), {"token": confirmation_token(mailoutbox, address)}


def _reset(user, mailoutbox) -> tuple[Client, dict]:
    get_account_manager().request_password_reset(None, email="bob@example.com")
    uidb64, token = reset_parts(link_in(mailoutbox[-1]))
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    return Client(), body


def _change(user) -> tuple[Client, dict]:
    body = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    return logged_in_client(user), body


def _second_address(user, *, verified: bool) -> tuple[Client, dict]:
    EmailAddress.objects.create(user=user, email="second@example.com", verified=verified)
    return logged_in_client(user), {"email": "second@example.com"}


RAISING = {
    # operation: (the success signal whose receiver raises, the failure signal sent, setup)
    ("POST", "login"): ("user_logged_in", "user_authentication_failed", _login),
    ("POST", "confirm_email"): ("email_confirmed", "user_email_verification_failed", _confirm),
    ("POST", "password_reset_confirm"): ("password_reset", "password_reset_failed", _reset),
    ("POST", "password_change"): ("password_changed", "password_change_failed", _change),
    ("PATCH", "profile"): (
        "user_updated",
        "user_update_failed",
        lambda user: (logged_in_client(user), {"first_name": "Bob"}),
    ),
    ("POST", "account_delete"): (
        "user_deleted",
        "user_deletion_failed",
        lambda user: (logged_in_client(user), {"password": PASSWORD}),
    ),
    ("POST", "email_remove"): (
        "email_removed",
        "email_address_failed",
        lambda user: _second_address(user, verified=False),
    ),
    ("POST", "email_primary"): (
        "email_changed",
        "email_address_failed",
        lambda user: _second_address(user, verified=True),
    ),
    ("POST", "email_send"): (
        "email_confirmation_sent",
        "email_address_failed",
        lambda user: _second_address(user, verified=False),
    ),
}


@pytest.mark.parametrize("operation", sorted(RAISING), ids=op_id)
def test_a_receiver_that_raises_is_500_in_the_error_shape_and_saves_nothing(
    account, mailoutbox, failing_receiver, signals, operation
):
    method, name = operation
    success, failure, setup = RAISING[operation]
    arguments = (account, mailoutbox) if setup in (_confirm, _reset) else (account,)
    client, body = setup(*arguments)
    failing_receiver(getattr(ua_signals, success), "raise")
    signals.clear()
    response = call(client, method, name, body)
    assert codes(response, 500) == [("unexpected_exception", None)]
    assert "Retry-After" not in response
    failed = signals.one(failure)
    assert failed[("reason" if failure == "user_authentication_failed" else "error_type")] == (
        "unexpected_exception"
    )
    assert isinstance(failed["exception"], RuntimeError)
    account.refresh_from_db()  # still there, with its password, name and addresses
    assert account.check_password(PASSWORD) and account.first_name == ""
    assert not EmailAddress.objects.filter(user=account, email="second@example.com", primary=True)


# --- the rest ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "body", "started", "failure"),
    [
        ("PATCH", "profile", {"first_name": "Bob"}, "user_update_started", "user_update_failed"),
        (
            "POST",
            "account_delete",
            {"password": PASSWORD},
            "user_deletion_started",
            "user_deletion_failed",
        ),
    ],
)
def test_an_account_deleted_meanwhile_is_404(
    account, signals, method, name, body, started, failure
):
    """The account was deleted between the login check and the operation (here by a
    receiver of the start signal, as a concurrent request would)."""
    client = logged_in_client(account)

    def delete_account(**kwargs):
        get_user_model().objects.filter(pk=account.pk).delete()

    signal = getattr(ua_signals, started)
    signal.connect(delete_account, weak=False)
    try:
        response = call(client, method, name, body)
    finally:
        signal.disconnect(delete_account)
    assert codes(response, 404) == [("user_not_found", None)]
    assert signals.one(failure)["error_type"] == "user_not_found"
    assert not get_user_model().objects.filter(pk=account.pk).exists()


def test_a_new_link_for_an_address_not_on_the_account_is_404(account, signals):
    client = logged_in_client(account)
    response = post(client, "email_send", {"email": "nobody@example.com"})
    assert codes(response, 404) == [("not_yours", None)]
    signals.assert_once(
        "email_address_failed",
        user=account,
        email="nobody@example.com",
        action="send",
        error_type="not_found",
        exception=Exception,
    )
    assert signals.one("email_confirmation_send_failed")["error_type"] == "user_not_found"


def test_new_links_are_rate_limited(account, settings, signals, mailoutbox):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_email": "1/h/user"}
    EmailAddress.objects.create(user=account, email="second@example.com")
    client = logged_in_client(account)
    assert post(client, "email_send", {"email": "second@example.com"}).status_code == 200
    response = post(client, "email_send", {"email": "second@example.com"})
    assert codes(response, 429) == [("rate_limited", None)]
    assert int(response["Retry-After"]) > 0
    assert signals.one("email_address_failed")["error_type"] == "rate_limited"
    assert signals.one("email_confirmation_send_failed")["error_type"] == "rate_limited"
    assert len(mailoutbox) == 1


def test_checking_an_expired_confirmation_link_is_400(client, mailoutbox, signals, clock):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirmation_token(mailoutbox, EmailAddress.objects.get(user=user))
    clock.advance(app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS + 1)
    response = post(client, "confirm_email_check", {"token": token})
    assert codes(response, 400) == [("expired_token", None)]
    signals.assert_once(
        "user_email_verification_failed",
        token_prefix=token[:10],
        error_type="expired_token",
        exception=Exception,
        user=user,
    )


def test_the_document_is_served_to_either_client(account):
    token = app_login(Client(), account)
    response = call(Client(), "GET", "openapi", token=token)
    assert response.status_code == 200
    assert response.json()["openapi"] == "3.1.0"
    assert errors_of(call(Client(), "POST", "openapi", {}), 405)[0]["code"] == (
        "method_not_allowed"
    )
    assert reverse("useraccounts_api:openapi").endswith("/openapi.json")


# --- the plugin that keeps this true (tests/api_codes.py) ----------------------------------


def answer(method: str, name: str, status: int, body: dict | None) -> tuple[Any, Any]:
    request = getattr(RequestFactory(), method.lower())(url(name))
    request.resolver_match = resolve(url(name))
    response = (
        JsonResponse(body, status=status) if body is not None else HttpResponse(status=status)
    )
    return request, response


def test_the_recorder_refuses_what_the_document_does_not_describe():
    recorder = Recorder()
    recorder.record(*answer("GET", "session", 401, error_body("not_authenticated")))
    assert recorder.seen == {("GET /session", 401, "not_authenticated")}
    assert recorder.undocumented == []
    for method, name, status, body, why in [
        ("GET", "session", 429, error_body("rate_limited"), "status not documented"),
        ("GET", "session", 401, error_body("csrf_failed"), "codes not in"),
        ("GET", "session", 200, {"user": 1}, "body:"),
        ("POST", "logout", 204, {}, "a body where none is documented"),
        ("DELETE", "session", 200, {}, "no such operation"),
    ]:
        recorder.undocumented.clear()
        recorder.record(*answer(method, name, status, body))
        entry = recorder.undocumented[0]  # and maybe the body's mismatch after it
        assert entry[2].startswith(why), (why, entry)
    assert ("GET /session", 401, "not_authenticated") not in recorder.missing()
    assert ("GET /csrf", 200, SUCCESS) in recorder.missing()


def error_body(code: str) -> dict:
    return {"errors": [{"code": code, "field": None, "message": "text"}]}
