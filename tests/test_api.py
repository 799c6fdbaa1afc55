"""The JSON API (``useraccounts.api``) as its two kinds of client live it: a browser
(session cookie and CSRF token) and an app (a session token in ``X-Session-Token``),
on the same manager, with the same signals as the HTML pages."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, link_in, login_name
from tests.test_story import signup_data
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db
NEW = "a brand new passphrase"


# --- helpers, shared by the other test_api_* modules -------------------------------------

TOKEN_HEADER = "X-Session-Token"


def url(name: str) -> str:
    return reverse(f"useraccounts_api:{name}")


def call(
    client: Client,
    method: str,
    name: str,
    data: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | str | None = None,
    content_type: str = "application/json",
):
    """One API request: ``data`` as a JSON body (or ``raw`` bytes as the body), with the
    app's token in its header when given."""
    headers = dict(headers or {})
    if token is not None:
        headers[TOKEN_HEADER] = token
    do = getattr(client, method.lower())
    if method.upper() in ("GET", "OPTIONS"):
        return do(url(name), headers=headers)
    body = raw if raw is not None else ("" if data is None else json.dumps(data))
    return do(url(name), body, content_type=content_type, headers=headers)


def post(client: Client, name: str, data: Any = None, **kwargs: Any):
    return call(client, "POST", name, data, **kwargs)


def get(client: Client, name: str, **kwargs: Any):
    return call(client, "GET", name, **kwargs)


def errors_of(response, status: int) -> list[dict[str, Any]]:
    """The error entries of an error answer, after checking its status and shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for entry in body["errors"]:
        assert set(entry) == {"code", "field", "message"}, entry
        assert isinstance(entry["message"], str) and entry["message"], entry
    return body["errors"]


def codes(response, status: int) -> list[tuple[str, str | None]]:
    """(code, field) of each error of an error answer."""
    return [(e["code"], e["field"]) for e in errors_of(response, status)]


def token_of(link: str) -> str:
    """The token of a confirmation link: its last path segment."""
    return link.rstrip("/").rsplit("/", 1)[1]


def reset_parts(link: str) -> tuple[str, str]:
    """``uidb64`` and ``token`` of a password reset link."""
    match = re.search(r"/password/reset/([^/]+)/([^/]+)/$", link)
    assert match, link
    return match[1], match[2]


def csrf_client() -> tuple[Client, str]:
    """A browser client whose every unsafe request is CSRF-checked, and its token."""
    client = Client(enforce_csrf_checks=True)
    response = get(client, "csrf")
    assert response.status_code == 200
    return client, response.json()["csrf_token"]


def app_login(client: Client, user, password: str = PASSWORD) -> str:
    response = post(
        client, "login", {"login": login_name(user), "password": password, "client": "app"}
    )
    assert response.status_code == 200, response.content
    token = response.json()["session_token"]
    assert response[TOKEN_HEADER] == token
    return token


# --- the browser story -------------------------------------------------------------------


def test_browser_signs_up_confirms_logs_in_changes_password_and_logs_out(mailoutbox, signals):
    client, csrf = csrf_client()
    header = {"X-CSRFToken": csrf}
    User = get_user_model()

    response = post(client, "signup", signup_data(), headers=header)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "email": "alice@example.com",
        "logged_in": False,
        "email_verification": "mandatory",
    }
    user = User.objects.get()
    address = EmailAddress.objects.get()
    username = "alice" if has_username() else None
    assert signals.names() == [
        "user_registration_started",
        "user_pre_register",
        "user_password_set",
        "email_confirmation_sent",
        "user_signed_up",
    ]
    signals.assert_once("user_registration_started", username=username, email="Alice@Example.com")
    signals.assert_once("user_signed_up", user=user)
    signals.assert_once("email_confirmation_sent", user=user, email_address=address, signup=True)

    # Not confirmed yet: the login is refused, saying why.
    refused = post(
        client, "login", {"login": "alice@example.com", "password": PASSWORD}, headers=header
    )
    assert codes(refused, 403) == [("email_not_verified", None)]
    assert get(client, "session").status_code == 401

    # The emailed link's token confirms; this client signed up, so no password is asked.
    link = link_in(mailoutbox[0])
    signals.clear()
    response = post(client, "confirm_email", {"token": token_of(link)}, headers=header)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "email_address": {"email": "alice@example.com", "verified": True, "primary": True}
    }
    address.refresh_from_db()
    assert address.verified
    assert signals.names() == ["email_confirmed"]
    signals.assert_once("email_confirmed", user=user, email_address=address)

    # The link is single-use.
    again = post(client, "confirm_email", {"token": token_of(link)}, headers=header)
    assert codes(again, 400) == [("invalid_token", None)]

    signals.clear()
    response = post(
        client, "login", {"login": "ALICE@example.COM", "password": PASSWORD}, headers=header
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["client"] == "browser"
    assert "session_token" not in body and TOKEN_HEADER not in response
    assert body["user"] == {"id": str(user.pk), "username": username, "email": "alice@example.com"}
    # Django's login rotated the CSRF token: the answer carries the new one.
    assert body["csrf_token"] and body["csrf_token"] != csrf
    header = {"X-CSRFToken": body["csrf_token"]}
    assert client.session["_auth_user_id"] == str(user.pk)
    assert signals.names() == [
        "user_authentication_started",
        "user_password_checked",
        "user_logged_in",
    ]
    signals.assert_once("user_authentication_started", username="ALICE@example.COM")
    signals.assert_once("user_logged_in", user=user)

    session = get(client, "session")
    assert session.status_code == 200
    assert session.json() == {
        "user": {"id": str(user.pk), "username": username, "email": "alice@example.com"},
        "email_addresses": [{"email": "alice@example.com", "verified": True, "primary": True}],
        "client": "browser",
    }

    signals.clear()
    response = post(
        client,
        "password_change",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        headers=header,
    )
    assert response.status_code == 200, response.content
    assert signals.names() == [
        "user_password_checked",
        "user_password_set",
        "password_changed",
    ]
    signals.assert_once("password_changed", user=user)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert get(client, "session").status_code == 200  # this session stays

    signals.clear()
    response = post(client, "logout", headers=header)
    assert response.status_code == 204
    assert get(client, "session").status_code == 401
    signals.assert_once("user_logged_out", user=user)
    signals.assert_no_secret(PASSWORD, NEW, token_of(link))


# --- the app story -----------------------------------------------------------------------


def test_app_signs_up_confirms_and_logs_in_with_a_token(mailoutbox, signals):
    client = Client(enforce_csrf_checks=True)  # an app has no CSRF token: none is needed
    response = post(client, "signup", {**signup_data(), "client": "app"})
    assert response.status_code == 201, response.content
    user = get_user_model().objects.get()
    link = link_in(mailoutbox[0])
    # The app kept the cookie the signup set, so it may confirm without the password.
    response = post(client, "confirm_email", {"token": token_of(link), "client": "app"})
    assert response.status_code == 200, response.content

    signals.clear()
    token = app_login(client, user)
    assert Session.objects.filter(session_key=token).exists()
    assert "sessionid" not in client.cookies or not client.cookies["sessionid"].value
    signals.assert_once("user_logged_in", user=user)

    fresh = Client(enforce_csrf_checks=True)  # the token alone, no cookie at all
    response = get(fresh, "session", token=token)
    assert response.status_code == 200
    assert response.json()["client"] == "app"
    assert response.json()["user"]["id"] == str(user.pk)
    assert get(fresh, "session").status_code == 401  # without it, nobody

    signals.clear()
    assert post(fresh, "logout", token=token).status_code == 204
    signals.assert_once("user_logged_out", user=user)
    assert not Session.objects.filter(session_key=token).exists()
    assert codes(get(fresh, "session", token=token), 401) == [("not_authenticated", None)]
