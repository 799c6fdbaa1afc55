"""The password endpoints and the requests answered alike for every address: each
error code in the API's error shape with its status and failure signal, and the
answers that must not tell whether an address has an account."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD, create_account, link_in, visible
from tests.test_api import NEW, codes, get, post, reset_parts
from useraccounts.conf import app_settings
from useraccounts.manager import get_account_manager

pytestmark = pytest.mark.django_db


def reset_link(mailoutbox, email="bob@example.com") -> tuple[str, str]:
    get_account_manager().request_password_reset(None, email=email)
    return reset_parts(link_in(mailoutbox[-1]))


# --- the answers alike for every address -------------------------------------------------


@pytest.mark.parametrize("name", ["password_reset", "resend_confirmation"])
def test_known_and_unknown_addresses_get_the_same_answer(name, mailoutbox, signals):
    create_account("bob", "bob@example.com")
    create_account("carol", "carol@example.com", verified=False)
    answers = [
        post(Client(), name, {"email": email})
        for email in ("bob@example.com", "carol@example.com", "nobody@example.com")
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert visible(answers[:1]) * 3 == visible(answers)
    assert len(mailoutbox) == 3  # a link, or a note: the same one mail each


def test_reset_request_signals(client, account, signals, mailoutbox):
    post(client, "password_reset", {"email": "bob@example.com"})
    post(client, "password_reset", {"email": "nobody@example.com"})
    signals.assert_once("password_reset_request_processed", email="bob@example.com", user=account)
    failed = signals.assert_once(
        "password_reset_request_failed",
        email="nobody@example.com",
        error_type="user_not_found",
        exception=Exception,
    )
    assert failed["request"].path == "/api/accounts/password/reset"
    for message in mailoutbox:  # the API's answer carries no link; the mail has the page's
        assert "/api/" not in message.body


@pytest.mark.parametrize("name", ["password_reset", "resend_confirmation"])
def test_same_answer_requests_are_rate_limited_alike(name, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"reset_password": "1/h/ip", "confirm_email": "1/h/ip"}
    post(Client(), name, {"email": "nobody@example.com"})
    response = post(Client(), name, {"email": "other@example.com"})
    assert codes(response, 429) == [("rate_limited", None)]
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("name", ["password_reset", "resend_confirmation"])
def test_same_answer_requests_with_the_cache_down_are_503_for_every_address(name, faults):
    create_account("bob", "bob@example.com")
    with faults.cache():
        for email in ("bob@example.com", "nobody@example.com"):
            response = post(Client(), name, {"email": email})
            assert codes(response, 503) == [("repository_error", None)]
            assert response["Retry-After"] == "30"


@pytest.mark.parametrize("name", ["password_reset", "resend_confirmation"])
def test_a_send_fault_only_an_account_meets_is_hidden(name, faults, signals):
    create_account("bob", "bob@example.com", verified=name == "password_reset")
    with faults.email():
        known = post(Client(), name, {"email": "bob@example.com"})
        unknown = post(Client(), name, {"email": "nobody@example.com"})
    assert known.status_code == 202
    assert visible([known]) == visible([unknown])


def test_a_malformed_address_is_400(client, signals):
    assert codes(post(client, "password_reset", {"email": "nope"}), 400) == [
        ("validation_error", "email")
    ]
    assert signals.names() == []


# --- password reset through the link -----------------------------------------------------


def test_reset_through_the_link_is_single_use(client, account, mailoutbox, signals):
    uidb64, token = reset_link(mailoutbox)
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    signals.clear()
    response = post(client, "password_reset_confirm", body)
    assert response.status_code == 200
    assert response.json() == {"logged_in": False}
    assert signals.names() == ["password_reset_started", "user_password_set", "password_reset"]
    signals.assert_once("password_reset", user=account)
    account.refresh_from_db()
    assert account.check_password(NEW)
    again = post(client, "password_reset_confirm", body)
    assert codes(again, 400) == [("invalid_token", None)]
    signals.assert_no_secret(PASSWORD, token)


def test_no_signal_of_a_reset_carries_the_new_password(client, account, mailoutbox, signals):
    uidb64, token = reset_link(mailoutbox)
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    assert post(client, "password_reset_confirm", body).status_code == 200
    signals.assert_no_secret(NEW)


def test_reset_with_a_bad_or_expired_link_is_400_whatever_was_typed(
    client, account, mailoutbox, signals, clock
):
    uidb64, token = reset_link(mailoutbox)
    bad = {
        "uidb64": uidb64,
        "token": token[:-2] + "xx",
        "new_password1": "a",
        "new_password2": "b",
    }
    assert codes(post(client, "password_reset_confirm", bad), 400) == [("invalid_token", None)]
    clock.advance(app_settings.PASSWORD_RESET_TIMEOUT_SECONDS + 1)
    expired = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    assert codes(post(client, "password_reset_confirm", expired), 400) == [("expired_token", None)]
    sent = [kw["error_type"] for kw in signals.of("password_reset_failed")]
    assert sent == ["invalid_token", "expired_token"]


def test_reset_with_a_refused_password_names_the_fields(client, account, mailoutbox, signals):
    uidb64, token = reset_link(mailoutbox)
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": "other"}
    assert codes(post(client, "password_reset_confirm", body), 400) == [
        ("validation_error", "new_password2")
    ]
    weak = {**body, "new_password1": "12345678", "new_password2": "12345678"}
    assert ("validation_error", "new_password1") in codes(
        post(client, "password_reset_confirm", weak), 400
    )
    assert [kw["error_type"] for kw in signals.of("password_reset_failed")] == [
        "validation_error",
        "validation_error",
    ]
    # The link still works once the password is acceptable.
    good = {**body, "new_password2": NEW}
    assert post(client, "password_reset_confirm", good).status_code == 200


def test_reset_can_log_an_app_in(account, mailoutbox, settings):
    settings.USERACCOUNTS_LOGIN_ON_PASSWORD_RESET = True
    uidb64, token = reset_link(mailoutbox)
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    response = post(Client(), "password_reset_confirm", {**body, "client": "app"})
    assert response.status_code == 200
    assert response.json()["logged_in"] is True
    session = get(Client(), "session", token=response.json()["session_token"])
    assert session.json()["user"]["id"] == str(account.pk)


# --- password change ---------------------------------------------------------------------


def test_password_change_needs_a_login(client, signals):
    body = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    assert codes(post(client, "password_change", body), 401) == [("not_authenticated", None)]
    assert codes(get(client, "session"), 401) == [("not_authenticated", None)]


def test_password_change_with_a_wrong_current_password_is_403(account, signals):
    client = Client()
    client.force_login(account)
    body = {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW}
    assert codes(post(client, "password_change", body), 403) == [
        ("incorrect_password", "old_password")
    ]
    signals.assert_once(
        "password_change_failed",
        user=account,
        error_type="incorrect_password",
        exception=Exception,
    )


def test_password_change_validation_and_rate_limit(account, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"change_password": "2/m/user"}
    client = Client()
    client.force_login(account)
    weak = {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    assert ("validation_error", "new_password1") in codes(
        post(client, "password_change", weak), 400
    )
    missing = {"old_password": PASSWORD, "new_password1": NEW}
    assert codes(post(client, "password_change", missing), 400) == [
        ("validation_error", "new_password2")
    ]
    post(client, "password_change", {**weak, "old_password": "wrong"})
    limited = post(client, "password_change", {**weak, "new_password1": NEW, "new_password2": NEW})
    assert codes(limited, 429) == [("rate_limited", None)]
    sent = [kw["error_type"] for kw in signals.of("password_change_failed")]
    assert sent == ["validation_error", "incorrect_password", "rate_limited"]


def test_an_account_without_a_password_sets_one(signals):
    user = create_account("sso", "sso@example.com")
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    response = post(client, "password_change", {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 200
    signals.assert_once("password_set", user=user)


def test_checking_a_reset_link_changes_nothing(client, account, mailoutbox, signals, clock):
    uidb64, token = reset_link(mailoutbox)
    signals.clear()
    response = post(client, "password_reset_check", {"uidb64": uidb64, "token": token})
    assert (response.status_code, response.json()) == (200, {"valid": True})
    assert signals.names() == []
    bad = post(client, "password_reset_check", {"uidb64": uidb64, "token": token + "x"})
    assert codes(bad, 400) == [("invalid_token", None)]
    clock.advance(app_settings.PASSWORD_RESET_TIMEOUT_SECONDS + 1)
    expired = post(client, "password_reset_check", {"uidb64": uidb64, "token": token})
    assert codes(expired, 400) == [("expired_token", None)]
    sent = [kw["error_type"] for kw in signals.of("password_reset_failed")]
    assert sent == ["invalid_token", "expired_token"]
    account.refresh_from_db()
    assert account.check_password(PASSWORD)
