"""The JSON API as an app lives it, over real HTTP: pytest-django's live server and the
standard library's urllib, no Django test client. The app keeps no cookie: what it
sends is its JSON and, once logged in, the session token in ``X-Session-Token``.

The ``signals`` fixture's receivers are connected in this process, and the live
server's thread serves the requests in it too: they hear every signal the requests
send, before the answer reaches the app."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from tests.conftest import PASSWORD, link_in, login_name
from tests.test_api import NEW, TOKEN_HEADER, reset_parts, token_of
from tests.test_story import signup_data
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress
from useraccounts.users import display_name, has_username

THIRD = "a third long passphrase"
#: No proxy, no cookie jar: urllib's plain handlers, as an app's HTTP library.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MINE = object()


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        assert self.headers.get_content_type() == "application/json", self.headers
        return json.loads(self.body)

    def errors(self, status: int) -> list[tuple[str, str | None]]:
        """(code, field) of each error, after checking the status and the error shape."""
        assert self.status == status, (self.status, self.body[:500])
        body = self.json()
        assert set(body) == {"errors"} and body["errors"], body
        for entry in body["errors"]:
            assert set(entry) == {"code", "field", "message"}, entry
            assert isinstance(entry["message"], str) and entry["message"], entry
        return [(entry["code"], entry["field"]) for entry in body["errors"]]


@dataclass
class App:
    """An app's HTTP client: JSON bodies, its token (when it has one) in the header,
    every cookie it is sent recorded and never sent back."""

    base: str
    token: str | None = None
    cookies_set: list[str] = field(default_factory=list)

    def call(self, method: str, name: str, data: Any = None, *, token: Any = MINE) -> Answer:
        """One request; ``token``: the app's own (by default), another, or None."""
        token = self.token if token is MINE else token
        headers = {"Accept": "application/json"}
        if token is not None:
            headers[TOKEN_HEADER] = token
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.base}/api/accounts/{name}", data=body, headers=headers, method=method
        )
        assert not request.has_header("Cookie")
        try:
            with OPENER.open(request, timeout=30) as response:
                answer = Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, error.headers, error.read())
            error.close()
        self.cookies_set += answer.headers.get_all("Set-Cookie") or []
        return answer

    def post(self, name: str, data: Any = None, **kwargs: Any) -> Answer:
        return self.call("POST", name, data, **kwargs)

    def get(self, name: str, **kwargs: Any) -> Answer:
        return self.call("GET", name, **kwargs)

    def log_in(self, login: str, password: str = PASSWORD) -> str:
        """Log in as an app: the token of the answer, which is also in its header."""
        answer = self.post(
            "login", {"login": login, "password": password, "client": "app"}, token=None
        )
        assert answer.status == 200, answer.body
        token = answer.json()["session_token"]
        assert answer.headers[TOKEN_HEADER] == token
        return token

    def cookie_names(self) -> set[str]:
        names = set()
        for header in self.cookies_set:
            names |= set(SimpleCookie(header))
        return names


@pytest.fixture
def app(live_server) -> App:
    return App(live_server.url)


def test_an_app_signs_up_confirms_logs_in_and_keeps_its_account_with_a_token(
    app, mailoutbox, signals
):
    User = get_user_model()
    username = "alice" if has_username() else None

    answer = app.post("signup", {**signup_data(), "client": "app"})
    assert answer.status == 201, answer.body
    assert answer.json() == {
        "email": "alice@example.com",
        "logged_in": False,
        "email_verification": "mandatory",
    }
    assert TOKEN_HEADER not in answer.headers  # nobody is logged in: no session
    user = User.objects.get()
    assert signals.names() == [
        "user_registration_started",
        "user_pre_register",
        "user_password_set",
        "email_confirmation_sent",
        "user_signed_up",
    ]
    signals.assert_once("user_signed_up", user=user)
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]

    # Not confirmed yet: the login is refused, saying why, and no token is made.
    refused = app.post(
        "login", {"login": "alice@example.com", "password": PASSWORD, "client": "app"}
    )
    assert refused.errors(403) == [("email_not_verified", None)]
    assert TOKEN_HEADER not in refused.headers and not Session.objects.exists()

    # The app kept no cookie of the signup: the link's token alone proves nothing, so
    # the API asks for the password (check first, as a front end would).
    token = token_of(link_in(mailoutbox[0]))
    check = app.post("email/confirm/check", {"token": token, "client": "app"})
    assert check.status == 200, check.body
    assert check.json()["password_required"] is True
    assert check.json()["email_address"] == {
        "email": "alice@example.com",
        "verified": False,
        "primary": True,
    }
    signals.clear()
    unproven = app.post("email/confirm", {"token": token, "client": "app"})
    assert unproven.errors(403) == [("incorrect_password", "password")]
    assert signals.one("user_email_verification_failed")["error_type"] == "incorrect_password"
    assert not EmailAddress.objects.get().verified
    signals.clear()
    confirmed = app.post("email/confirm", {"token": token, "password": PASSWORD, "client": "app"})
    assert confirmed.status == 200, confirmed.body
    assert confirmed.json() == {
        "email_address": {"email": "alice@example.com", "verified": True, "primary": True}
    }
    address = EmailAddress.objects.get()
    assert address.verified
    signals.assert_once("email_confirmed", user=user, email_address=address)

    # Log in: the token is in the body and the header, and it is a session of the store.
    signals.clear()
    answer = app.post(
        "login", {"login": "ALICE@example.COM", "password": PASSWORD, "client": "app"}
    )
    assert answer.status == 200, answer.body
    body = answer.json()
    app.token = body["session_token"]
    assert answer.headers[TOKEN_HEADER] == app.token
    assert body == {
        "user": {"id": str(user.pk), "username": username, "email": "alice@example.com"},
        "email_addresses": [{"email": "alice@example.com", "verified": True, "primary": True}],
        "client": "app",
        "session_token": app.token,
    }
    session = Session.objects.get(session_key=app.token)
    assert session.get_decoded()["_auth_user_id"] == str(user.pk)
    assert signals.names() == [
        "user_authentication_started",
        "user_password_checked",
        "user_logged_in",
    ]
    signals.assert_once("user_logged_in", user=user)

    me = app.get("session")
    assert me.status == 200
    assert me.json()["client"] == "app" and me.json()["user"]["id"] == str(user.pk)
    assert "session_token" not in me.json()  # the same token: nothing new to tell
    assert app.get("session", token=None).errors(401) == [("not_authenticated", None)]

    # Add an address.
    signals.clear()
    added = app.post("email", {"email": "alice.work@example.com"})
    assert added.status == 201, added.body
    assert added.json()["email_addresses"] == [
        {"email": "alice@example.com", "verified": True, "primary": True},
        {"email": "alice.work@example.com", "verified": False, "primary": False},
    ]
    work = EmailAddress.objects.get(email="alice.work@example.com")
    assert work.user_id == user.pk
    signals.assert_once("email_added", user=user, email_address=work)
    assert mailoutbox[-1].to == ["alice.work@example.com"]
    taken = app.post("email", {"email": "ALICE@example.com"})
    assert taken.errors(409) == [("already_yours", None)]

    # Change the password: this token is renewed, and the new one works.
    signals.clear()
    wrong = app.post(
        "password/change",
        {"old_password": "not it", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong.errors(403) == [("incorrect_password", "old_password")]
    assert signals.one("password_change_failed")["error_type"] == "incorrect_password"
    signals.clear()
    changed = app.post(
        "password/change",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert changed.status == 200, changed.body
    renewed = changed.json()["session_token"]
    assert changed.headers[TOKEN_HEADER] == renewed != app.token
    signals.assert_once("password_changed", user=user)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert app.get("session").errors(401) == [("not_authenticated", None)]  # the old key
    app.token = renewed
    assert app.get("session").status == 200

    # Log out: the token ends.
    signals.clear()
    assert app.post("logout").status == 204
    signals.assert_once("user_logged_out", user=user)
    assert not Session.objects.filter(session_key=renewed).exists()
    assert app.get("session").errors(401) == [("not_authenticated", None)]

    # Forgot the password: a reset as an app, then a login with the new one.
    signals.clear()
    app.token = None
    asked = app.post("password/reset", {"email": "alice@example.com", "client": "app"})
    assert asked.status == 202, asked.body
    assert asked.json()["message"].startswith("If this address can receive it")
    signals.assert_once("password_reset_request_processed", email="alice@example.com", user=user)
    uidb64, reset_token = reset_parts(link_in(mailoutbox[-1]))
    parts = {"uidb64": uidb64, "token": reset_token, "client": "app"}
    assert app.post("password/reset/check", parts).json() == {"valid": True}
    mismatch = app.post(
        "password/reset/confirm", {**parts, "new_password1": THIRD, "new_password2": "other"}
    )
    assert mismatch.errors(400) == [("validation_error", "new_password2")]
    reset = app.post(
        "password/reset/confirm", {**parts, "new_password1": THIRD, "new_password2": THIRD}
    )
    assert reset.status == 200, reset.body
    assert reset.json() == {"logged_in": False}
    signals.assert_once("password_reset", user=user)
    used = app.post(
        "password/reset/confirm", {**parts, "new_password1": THIRD, "new_password2": THIRD}
    )
    assert used.errors(400) == [("invalid_token", None)]

    old = app.post("login", {"login": "alice@example.com", "password": NEW, "client": "app"})
    assert old.errors(403) == [("incorrect_password", None)]
    app.token = app.log_in("alice@example.com", THIRD)
    assert app.get("session").json()["user"]["id"] == str(user.pk)
    signals.assert_no_secret(PASSWORD, NEW, THIRD, token, reset_token)

    # Never a session cookie: the token is the whole session. The cookies the answers
    # did set (the address proof, the known device, the CSRF token Django's login()
    # rotates) were never sent back, and the story did not need them.
    names = app.cookie_names()
    assert names and django_settings.SESSION_COOKIE_NAME not in names, names


def test_logout_ends_the_token(app, account, signals):
    app.token = app.log_in(login_name(account))
    assert app.get("session").status == 200
    signals.clear()
    assert app.post("logout").status == 204
    signals.assert_once("user_logged_out", user=account)
    assert app.get("session").errors(401) == [("not_authenticated", None)]
    assert app.post("email", {"email": "x@example.com"}).errors(401) == [
        ("not_authenticated", None)
    ]
    # Logging out again with the ended token is no error, and nobody logged out.
    signals.clear()
    assert app.post("logout").status == 204
    assert signals.of("user_logged_out") == []
    assert not Session.objects.exists()


def test_a_password_change_ends_the_other_tokens(app, account, signals):
    mine, other = app.log_in(login_name(account)), app.log_in(login_name(account))
    assert mine != other
    assert app.get("session", token=other).status == 200
    signals.clear()
    changed = app.post(
        "password/change",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        token=mine,
    )
    assert changed.status == 200, changed.body
    renewed = changed.json()["session_token"]
    assert changed.headers[TOKEN_HEADER] == renewed and renewed not in (mine, other)
    signals.assert_once("password_changed", user=account)
    assert app.get("session", token=other).errors(401) == [("not_authenticated", None)]
    assert app.get("session", token=mine).errors(401) == [("not_authenticated", None)]
    # The changing app keeps working, with the token the change gave it.
    app.token = renewed
    assert app.get("session").json()["user"]["id"] == str(account.pk)
    added = app.post("email", {"email": "bob.work@example.com"})
    assert added.status == 201, added.body
    assert [s.session_key for s in Session.objects.all()] == [renewed]


@pytest.mark.parametrize("how", ["through the API", "by the staff"])
def test_deactivation_ends_a_token(app, account, settings, signals, how):
    settings.USERACCOUNTS_DELETE_MODE = "deactivate"
    mine, other = app.log_in(login_name(account)), app.log_in(login_name(account))
    signals.clear()
    if how == "through the API":
        wrong = app.post("account/delete", {"password": "not it"}, token=mine)
        assert wrong.errors(403) == [("incorrect_password", "password")]
        assert app.get("session", token=mine).status == 200
        answer = app.post("account/delete", {"password": PASSWORD}, token=mine)
        assert answer.status == 204, answer.body
        signals.assert_once("user_deleted", user_id=account.pk, username=display_name(account))
    else:
        get_account_manager().set_user_active(None, account, False)
        signals.assert_once(
            "user_updated", request=None, user=account, update_data={"is_active": False}
        )
    account.refresh_from_db()
    assert not account.is_active
    for token in (mine, other):
        assert app.get("session", token=token).errors(401) == [("not_authenticated", None)]
    refused = app.post(
        "login", {"login": login_name(account), "password": PASSWORD, "client": "app"}
    )
    assert refused.errors(403) == [("user_inactive", None)]
    assert TOKEN_HEADER not in refused.headers
