"""How the JSON API serves each kind of client: the session token of an app (what ends
it, what renews it, that it never mixes with the cookie, whatever the middleware), the
CSRF token of a browser, and what every answer shares."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD, create_account, login_name
from tests.test_api import (
    NEW,
    TOKEN_HEADER,
    app_login,
    codes,
    csrf_client,
    errors_of,
    get,
    post,
)
from useraccounts import signals as ua_signals
from useraccounts.manager import get_account_manager

pytestmark = pytest.mark.django_db


# --- a browser's CSRF token --------------------------------------------------------------


def test_a_browser_post_without_the_csrf_token_is_refused(account, signals):
    client = Client(enforce_csrf_checks=True)
    body = {"login": login_name(account), "password": PASSWORD}
    for name in ("login", "signup", "logout", "password_reset", "resend_confirmation"):
        assert codes(post(client, name, body), 403) == [("csrf_failed", None)], name
    assert signals.names() == []  # refused before any operation
    # A wrong token is refused as well; the right one passes.
    client, csrf = csrf_client()
    assert codes(post(client, "login", body, headers={"X-CSRFToken": "x" * 32}), 403) == [
        ("csrf_failed", None)
    ]
    assert post(client, "login", body, headers={"X-CSRFToken": csrf}).status_code == 200


def test_the_csrf_endpoint_sets_the_cookie_and_names_the_header():
    client = Client(enforce_csrf_checks=True)
    response = get(client, "csrf")
    assert response.status_code == 200
    assert response.json()["header"] == "X-CSRFTOKEN"
    assert settings.CSRF_COOKIE_NAME in response.cookies
    assert "no-cache" in response["Cache-Control"]


def test_a_logged_in_browser_post_needs_the_csrf_token(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert codes(post(client, "logout"), 403) == [("csrf_failed", None)]
    assert get(client, "session").status_code == 200  # still logged in


# --- an app's session token ----------------------------------------------------------------


def test_a_password_change_ends_every_other_token_and_renews_its_own(account, signals):
    client = Client(enforce_csrf_checks=True)
    mine, other = app_login(client, account), app_login(client, account)
    browser = Client()
    browser.force_login(account)

    signals.clear()
    response = post(
        client,
        "password_change",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        token=mine,
    )
    assert response.status_code == 200, response.content
    signals.assert_once("password_changed", user=account)
    renewed = response.json()["session_token"]
    assert response[TOKEN_HEADER] == renewed and renewed != mine
    assert get(client, "session", token=renewed).status_code == 200
    assert get(client, "session", token=mine).status_code == 401
    assert get(client, "session", token=other).status_code == 401
    assert get(browser, "session").status_code == 401  # the cookie session ended too


def test_a_deactivated_account_s_token_stops_working(account):
    client = Client()
    token = app_login(client, account)
    assert get(client, "session", token=token).status_code == 200
    get_account_manager().set_user_active(None, account, False)
    assert get(client, "session", token=token).status_code == 401


def test_a_token_request_ignores_the_session_cookie(account):
    """The token, not the cookie, says who is logged in; and a token is never CSRF-checked
    since no cookie is involved."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    other = create_account("dave", "dave@example.com")
    token = app_login(Client(), other)
    response = get(client, "session", token=token)
    assert response.json()["user"]["id"] == str(other.pk)
    assert get(client, "session", token="no-such-session-key").status_code == 401
    assert post(client, "logout", token=token).status_code == 204  # no CSRF token needed
    assert get(client, "session").json()["user"]["id"] == str(account.pk)  # cookie untouched


@pytest.mark.parametrize("token", ["", " ", "a" * 500, "bad token", "x\x00y", "é" * 20])
def test_a_malformed_token_is_nobody(account, token):
    response = get(Client(), "session", token=token)
    assert codes(response, 401) == [("not_authenticated", None)]


def test_app_login_refusals_read_alike_for_unknown_and_wrong_password(
    account, signals, hash_count
):
    client = Client()
    wrong = post(
        client, "login", {"login": login_name(account), "password": "nope", "client": "app"}
    )
    start = hash_count()
    unknown = post(
        client, "login", {"login": "nobody@example.com", "password": "nope", "client": "app"}
    )
    assert hash_count() - start == 1  # one hash for an unknown login too
    assert codes(wrong, 403) == codes(unknown, 403) == [("incorrect_password", None)]
    assert wrong.content == unknown.content
    reasons = [kw["reason"] for kw in signals.of("user_authentication_failed")]
    assert reasons == ["incorrect_password", "user_not_found"]
    assert TOKEN_HEADER not in wrong and not Session.objects.exists()


def touch_user(get_response):
    """A project's middleware that reads ``request.user`` before any view runs."""

    def middleware(request):
        _ = request.user.is_authenticated
        return get_response(request)

    return middleware


@pytest.mark.parametrize("change", ["touched before the view", "no AuthenticationMiddleware"])
def test_the_token_says_who_is_logged_in_whatever_the_middleware(account, settings, change):
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if change == "no AuthenticationMiddleware":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != auth]
    else:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_api_sessions.touch_user"]
    other = create_account("dave", "dave@example.com")
    token = app_login(Client(), other)
    client = Client()
    client.force_login(account)
    assert get(client, "session", token=token).json()["user"]["id"] == str(other.pk)


def test_a_token_session_is_saved_on_every_request_when_the_setting_says(account, settings, clock):
    settings.SESSION_SAVE_EVERY_REQUEST = True
    token = app_login(Client(), account)
    before = Session.objects.get(session_key=token).expire_date
    clock.advance(3600)
    assert get(Client(), "session", token=token).status_code == 200
    assert Session.objects.get(session_key=token).expire_date > before


def test_a_preflight_needs_no_login():
    response = Client().options("/api/accounts/session")
    assert response.status_code == 200
    assert response["Allow"] == "GET, OPTIONS"


def test_messages_follow_the_visitor_s_language(account):
    response = post(
        Client(),
        "login",
        {"login": login_name(account), "password": "wrong"},
        headers={"Accept-Language": "fr"},
    )
    assert errors_of(response, 403)[0]["message"].startswith("L’identifiant et le mot de passe")
    assert errors_of(get(Client(), "session", headers={"Accept-Language": "fr"}), 401)[0][
        "message"
    ] == ("Connectez-vous d’abord.")


@pytest.mark.parametrize("kind", ["raise", "sql"])
def test_a_failing_logout_receiver_still_ends_the_token(
    account, signals, failing_receiver, caplog, kind
):
    token = app_login(Client(), account)
    failing_receiver(ua_signals.user_logged_out, kind)
    response = post(Client(), "logout", token=token)
    assert response.status_code == 204
    assert not Session.objects.filter(session_key=token).exists()
    assert codes(get(Client(), "session", token=token), 401) == [("not_authenticated", None)]
    signals.assert_once("user_logged_out", user=account)
    (logged,) = [r for r in caplog.records if "user_logged_out" in r.getMessage()]
    assert logged.exc_info is not None
