"""What the JSON API does with requests it cannot serve as sent: the wrong method (405),
a body that is no JSON object, too large, not JSON-typed, of the wrong types, or with
NUL bytes (400 or 415, never 500), each in the one error shape, and never reaching the
manager."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import PASSWORD, login_name
from tests.test_api import call, codes, errors_of, get, post
from tests.test_story import signup_data

pytestmark = pytest.mark.django_db

POST_ONLY = [
    "signup",
    "login",
    "logout",
    "confirm_email",
    "confirm_email_check",
    "resend_confirmation",
    "password_reset",
    "password_reset_confirm",
    "password_reset_check",
    "password_change",
    "account_delete",
    "email_remove",
    "email_primary",
    "email_send",
]


@pytest.mark.parametrize("name", POST_ONLY)
def test_get_on_a_post_endpoint_is_405_with_allow(client, name, signals):
    response = get(client, name)
    assert codes(response, 405) == [("method_not_allowed", None)]
    assert response["Allow"] == "POST, OPTIONS"
    assert signals.names() == []


@pytest.mark.parametrize(
    ("method", "name", "allow"),
    [
        ("POST", "session", "GET, OPTIONS"),
        ("POST", "csrf", "GET, OPTIONS"),
        ("PATCH", "login", "POST, OPTIONS"),
        ("PUT", "profile", "GET, PATCH, OPTIONS"),
        ("DELETE", "email", "GET, POST, OPTIONS"),
        ("PATCH", "email", "GET, POST, OPTIONS"),
    ],
)
def test_other_wrong_methods_are_405(client, method, name, allow):
    response = call(client, method, name, {})
    assert codes(response, 405) == [("method_not_allowed", None)]
    assert response["Allow"] == allow


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b"[]",
        b'"a string"',
        b"42",
        b"null",
        b'{"email": NaN}',
        b'{"email": Infinity}',
        b"\xff\xfe{}",
        b'{"email": "\\ud800@example.com"}',
        b'{"\\udfff": 1}',
        b"[" * 30_000 + b"]" * 30_000,  # nested deeper than the parser recurses
        b'{"a": ' * 9_000 + b"1" + b"}" * 9_000,
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(client, raw, signals):
    for name in ("signup", "login", "password_reset"):
        assert codes(post(client, name, raw=raw), 400) == [("invalid_json", None)], name
    assert signals.names() == []


def test_a_huge_body_is_400_unread(client, signals):
    body = {**signup_data(), "padding": "x" * 70_000}
    assert codes(post(client, "signup", body), 400) == [("request_too_large", None)]
    # Larger than Django's own DATA_UPLOAD_MAX_MEMORY_SIZE too.
    huge = b'{"email": "' + b"x" * 3_000_000 + b'"}'
    assert codes(post(client, "password_reset", raw=huge), 400) == [("request_too_large", None)]
    assert signals.names() == []


def test_a_bad_content_length_is_400(client):
    response = client.post(
        "/api/accounts/login", "{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert codes(response, 400) == [("invalid_json", None)]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_not_sent_as_json_is_415(client, account, content_type, signals):
    """A form on another site can send these without a CORS preflight: they are never
    read as JSON, so an app login cannot be forged from another site."""
    raw = f'{{"login": "{login_name(account)}", "password": "{PASSWORD}", "client": "app"}}'
    response = post(client, "login", raw=raw, content_type=content_type)
    assert codes(response, 415) == [("unsupported_media_type", None)]
    assert signals.names() == []


def test_json_with_a_charset_is_json(client, account):
    body = f'{{"login": "{login_name(account)}", "password": "{PASSWORD}"}}'
    response = post(client, "login", raw=body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("signup", {"email": 5}, "email"),
        ("signup", {"password1": ["a"]}, "password1"),
        ("login", {"login": {"a": 1}, "password": PASSWORD}, "login"),
        ("login", {"login": "bob", "password": PASSWORD, "remember": "yes"}, "remember"),
        ("login", {"login": True, "password": PASSWORD}, "login"),
        ("password_reset", {"email": 1.5}, "email"),
        ("resend_confirmation", {"email": False}, "email"),
        ("confirm_email", {"token": 12}, "token"),
        ("password_reset_confirm", {"uidb64": [], "token": "x"}, "uidb64"),
    ],
)
def test_a_value_of_the_wrong_type_is_400_on_its_field(client, name, body, field, signals):
    response = post(client, name, body)
    assert ("validation_error", field) in codes(response, 400)
    assert signals.names() == []


def test_a_login_of_the_wrong_type_is_refused_before_the_login_starts(client, signals):
    assert codes(post(client, "login", {"login": 1, "password": 2}), 400) == [
        ("validation_error", "login"),
        ("validation_error", "password"),
    ]


@pytest.mark.parametrize("client_kind", ["phone", 1, True])
def test_an_unknown_client_kind_is_400(client, client_kind):
    response = post(client, "login", {"login": "bob", "password": "x", "client": client_kind})
    assert codes(response, 400) == [("validation_error", "client")]


def test_null_counts_as_absent(client, signals):
    response = post(client, "signup", {**signup_data(), "email": None})
    assert ("validation_error", "email") in codes(response, 400)
    # A signup that reaches the manager with the form's errors, as the page's does.
    assert signals.one("user_registration_failed")["error_type"] == "validation_error"


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("signup", signup_data(email="a\x00@example.com"), "email"),
        ("login", {"login": "bob\x00", "password": PASSWORD}, "login"),
        ("password_reset", {"email": "bob\x00@example.com"}, "email"),
        ("resend_confirmation", {"email": "\x00"}, "email"),
    ],
)
def test_nul_bytes_are_a_validation_error(client, name, body, field):
    assert ("validation_error", field) in codes(post(client, name, body), 400)
    assert get_user_model().objects.count() == 0


def test_an_empty_body_is_an_empty_object(client):
    response = post(client, "login", raw=b"")
    assert set(codes(response, 400)) == {
        ("validation_error", "login"),
        ("validation_error", "password"),
    }


def test_options_answers_with_the_allowed_methods():
    response = Client().options("/api/accounts/login")
    assert response.status_code == 200
    assert response["Allow"] == "POST, OPTIONS"


def test_every_answer_is_never_cached(client):
    for response in (get(client, "session"), post(client, "login", raw=b"{")):
        errors_of(response, response.status_code)
        assert "no-store" in response["Cache-Control"]
