"""Each error code of signup, login, logout and email confirmation, in the API's error
shape with its status, and the failure signal the manager sends for it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD, create_account, link_in, login_name, visible
from tests.test_api import (
    TOKEN_HEADER,
    codes,
    errors_of,
    get,
    post,
    token_of,
)
from tests.test_story import signup_data
from useraccounts import signals as ua_signals
from useraccounts.conf import app_settings
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db


def confirm_token(mailoutbox, user) -> str:
    address = EmailAddress.objects.get(user=user, verified=False)
    get_account_manager().send_email_confirmation(None, address)
    return token_of(link_in(mailoutbox[-1]))


# --- signup ------------------------------------------------------------------------------


def test_signup_validation_errors_land_on_their_fields(client, signals):
    body = signup_data(email="not an address", password1="short", password2="other")
    found = codes(post(client, "signup", body), 400)
    assert ("validation_error", "email") in found
    assert ("validation_error", "password2") in found
    assert {code for code, _field in found} == {"validation_error"}
    failed = signals.one("user_registration_failed")
    assert failed["error_type"] == "validation_error"
    assert get_user_model().objects.count() == 0


def test_a_weak_password_is_the_manager_s_error_on_password1(client, signals):
    found = codes(
        post(client, "signup", signup_data(password1="12345678", password2="12345678")), 400
    )
    assert ("validation_error", "password1") in found
    signals.one("user_registration_failed")


def test_a_taken_address_answers_as_a_fresh_signup(client, mailoutbox, signals):
    create_account("holder", "alice@example.com")
    taken = post(Client(), "signup", signup_data())
    fresh = post(Client(), "signup", signup_data(email="ALICE@example.org", username="alice2"))
    # The same but for the address typed, which each answer echoes normalized.
    assert taken.status_code == fresh.status_code == 201
    assert taken.json() == {**fresh.json(), "email": "alice@example.com"}
    assert visible([taken], typed="alice@example.com") == visible(
        [fresh], typed="alice@example.org"
    )
    assert "useraccounts_confirm" in taken.cookies and "useraccounts_confirm" in fresh.cookies
    assert signals.of("user_registration_failed")[0]["error_type"] == "validation_error"


def test_signup_when_closed_or_logged_in_is_refused(client, account, settings):
    settings.USERACCOUNTS_SIGNUP_OPEN = False
    assert codes(post(client, "signup", signup_data()), 403) == [("signup_closed", None)]
    settings.USERACCOUNTS_SIGNUP_OPEN = True
    client.force_login(account)
    assert codes(post(client, "signup", signup_data()), 409) == [("already_authenticated", None)]


def test_signup_is_rate_limited_with_retry_after(client, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"signup": "1/h/ip"}
    assert post(client, "signup", signup_data()).status_code == 201
    response = post(client, "signup", signup_data(email="second@example.com", username="two"))
    assert codes(response, 429) == [("rate_limited", None)]
    assert 0 < int(response["Retry-After"]) <= 3600
    assert signals.one("user_registration_failed")["error_type"] == "rate_limited"


@pytest.mark.parametrize("mode", ["optional", "none"])
def test_signup_without_mandatory_verification_logs_in_each_client_kind(settings, mode, signals):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = mode
    browser = Client()
    response = post(browser, "signup", signup_data())
    assert response.status_code == 201
    assert response.json()["logged_in"] is True and response.json()["client"] == "browser"
    assert get(browser, "session").status_code == 200
    app = post(
        Client(), "signup", {**signup_data(email="b@example.com", username="b"), "client": "app"}
    )
    assert app.status_code == 201
    token = app.json()["session_token"]
    assert app[TOKEN_HEADER] == token
    assert get(Client(), "session", token=token).json()["user"]["email"] == "b@example.com"
    assert len(signals.of("user_logged_in")) == 2


def test_a_receiver_that_raises_is_500_in_the_error_shape(client, signals, failing_receiver):
    failing_receiver(ua_signals.user_signed_up, "raise")
    response = post(client, "signup", signup_data())
    assert codes(response, 500) == [("unexpected_exception", None)]
    assert signals.one("user_registration_failed")["error_type"] == "unexpected_exception"


# --- login -------------------------------------------------------------------------------


def test_login_of_an_inactive_account_is_403(client, signals):
    user = create_account("ina", "ina@example.com", is_active=False)
    response = post(client, "login", {"login": login_name(user), "password": PASSWORD})
    assert codes(response, 403) == [("user_inactive", None)]
    assert signals.one("user_authentication_failed")["reason"] == "user_inactive"


def test_login_of_an_unverified_account_is_403(client, signals):
    user = create_account("unv", "unv@example.com", verified=False)
    response = post(client, "login", {"login": login_name(user), "password": PASSWORD})
    assert codes(response, 403) == [("email_not_verified", None)]
    assert signals.one("user_authentication_failed")["reason"] == "email_not_verified"
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_account(client, account, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "2/5m/key"}
    for _ in range(2):
        post(client, "login", {"login": login_name(account), "password": "wrong"})
    response = post(client, "login", {"login": login_name(account), "password": PASSWORD})
    assert codes(response, 429) == [("rate_limited", None)]
    assert int(response["Retry-After"]) > 0
    reasons = [kw["reason"] for kw in signals.of("user_authentication_failed")]
    assert reasons == ["incorrect_password", "incorrect_password", "rate_limited"]


def test_login_with_missing_fields_is_400_before_any_attempt(client, signals):
    found = codes(post(client, "login", {"login": "bob"}), 400)
    assert found == [("validation_error", "password")]
    assert signals.names() == []


def test_login_with_the_database_down_is_503(client, account, faults, signals):
    with faults.database(r'FROM "useraccounts_emailaddress"'):
        response = post(client, "login", {"login": "bob@example.com", "password": PASSWORD})
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    assert signals.one("user_authentication_failed")["reason"] == "repository_error"


def test_login_with_the_cache_down_is_503(client, account, faults):
    with faults.cache():
        response = post(client, "login", {"login": login_name(account), "password": PASSWORD})
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"


def test_an_app_login_whose_session_cannot_be_saved_is_503_and_gives_no_token(
    account, faults, signals
):
    with faults.database(r'INSERT INTO "django_session"'):
        response = post(
            Client(),
            "login",
            {"login": login_name(account), "password": PASSWORD, "client": "app"},
        )
    assert codes(response, 503) == [("repository_error", None)]
    assert TOKEN_HEADER not in response
    assert not Session.objects.exists()


# --- logout ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # as in production: no enclosing transaction
def test_logout_that_cannot_end_the_session_is_503(account, faults, signals):
    client = Client()
    client.force_login(account)
    with faults.database(r'DELETE FROM "django_session"'):
        response = post(client, "logout")
    errors = errors_of(response, 503)
    assert errors[0]["code"] == "repository_error" and "still logged in" in errors[0]["message"]
    assert get(client, "session").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_session_store_that_cannot_answer_is_503_for_a_token(account, faults):
    token = post(
        Client(), "login", {"login": login_name(account), "password": PASSWORD, "client": "app"}
    ).json()["session_token"]
    with faults.database(r'FROM "django_session"'):
        response = get(Client(), "session", token=token)
    assert codes(response, 503) == [("repository_error", None)]
    assert response["Retry-After"] == "30"
    assert get(Client(), "session", token=token).status_code == 200  # back once it answers


def test_logout_of_nobody_is_204_and_signals_nothing(client, signals):
    assert post(client, "logout").status_code == 204
    assert signals.names() == []


# --- email confirmation ------------------------------------------------------------------


def test_a_bad_or_expired_confirmation_token_is_400(client, mailoutbox, signals, clock):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirm_token(mailoutbox, user)
    assert codes(post(client, "confirm_email", {"token": "1-abc-def"}), 400) == [
        ("invalid_token", None)
    ]
    assert codes(post(client, "confirm_email", {}), 400) == [("invalid_token", None)]
    clock.advance(app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS + 1)
    assert codes(post(client, "confirm_email", {"token": token}), 400) == [("expired_token", None)]
    failed = signals.of("user_email_verification_failed")
    assert [kw["error_type"] for kw in failed] == [
        "invalid_token",
        "invalid_token",
        "expired_token",
    ]
    assert failed[2]["token_prefix"] == token[:10] and failed[2]["user"] == user


def test_confirming_for_another_s_account_needs_its_password(client, mailoutbox, signals):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirm_token(mailoutbox, user)
    response = post(client, "confirm_email", {"token": token})
    assert codes(response, 403) == [("incorrect_password", "password")]
    response = post(client, "confirm_email", {"token": token, "password": "wrong"})
    assert codes(response, 403) == [("incorrect_password", "password")]
    assert not EmailAddress.objects.get(user=user).verified
    response = post(client, "confirm_email", {"token": token, "password": PASSWORD})
    assert response.status_code == 200
    assert EmailAddress.objects.get(user=user).verified
    codes_sent = [kw["error_type"] for kw in signals.of("user_email_verification_failed")]
    assert codes_sent == ["incorrect_password", "incorrect_password"]
    signals.assert_once("email_confirmed", user=user, email_address=EmailAddress)


def test_an_app_logged_in_as_the_account_confirms_without_the_password(mailoutbox):
    user = create_account("carol", "carol@example.com")
    token = post(
        Client(), "login", {"login": login_name(user), "password": PASSWORD, "client": "app"}
    )
    session_token = token.json()["session_token"]
    added = EmailAddress.objects.create(user=user, email="second@example.com")
    get_account_manager().send_email_confirmation(None, added)
    link = token_of(link_in(mailoutbox[-1]))
    response = post(Client(), "confirm_email", {"token": link}, token=session_token)
    assert response.status_code == 200, response.content
    added.refresh_from_db()
    assert added.verified


def test_confirming_an_address_another_account_confirmed_first_is_409(mailoutbox, signals):
    create_account("holder", "shared@example.com")
    latecomer = create_account("latecomer", "late@example.com")
    waiting = EmailAddress.objects.create(user=latecomer, email="shared@example.com")
    get_account_manager().send_email_confirmation(None, waiting)
    client = Client()
    client.force_login(latecomer)
    response = post(client, "confirm_email", {"token": token_of(link_in(mailoutbox[-1]))})
    assert codes(response, 409) == [("address_taken", None)]
    assert signals.one("user_email_verification_failed")["error_type"] == "address_taken"


def test_confirmation_passwords_are_rate_limited(client, mailoutbox, settings, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_password": "1/5m/user"}
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirm_token(mailoutbox, user)
    post(client, "confirm_email", {"token": token, "password": "wrong"})
    response = post(client, "confirm_email", {"token": token, "password": PASSWORD})
    assert codes(response, 429) == [("rate_limited", None)]
    assert int(response["Retry-After"]) > 0


def test_a_database_fault_on_a_good_link_is_503_and_the_link_still_works(
    client, mailoutbox, faults, signals
):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirm_token(mailoutbox, user)
    with faults.database():
        response = post(client, "confirm_email", {"token": token, "password": PASSWORD})
    assert codes(response, 503) == [("repository_error", None)]
    assert signals.one("user_email_verification_failed")["error_type"] == "repository_error"
    assert post(client, "confirm_email", {"token": token, "password": PASSWORD}).status_code == 200


def test_checking_a_confirmation_token_changes_nothing(client, mailoutbox, signals):
    user = create_account("carol", "carol@example.com", verified=False)
    token = confirm_token(mailoutbox, user)
    signals.clear()
    response = post(client, "confirm_email_check", {"token": token})
    assert response.status_code == 200
    body = response.json()
    assert body["email_address"] == {
        "email": "carol@example.com",
        "verified": False,
        "primary": True,
    }
    assert body["password_required"] is True  # another client: the password is asked
    assert body["account_username"] == (user.get_username() if has_username() else "")
    assert not EmailAddress.objects.get(user=user).verified
    assert signals.names() == []
    bad = post(client, "confirm_email_check", {"token": token[:-1] + "x"})
    assert codes(bad, 400) == [("invalid_token", None)]
    assert signals.one("user_email_verification_failed")["error_type"] == "invalid_token"
    # The logged-in owner needs no password.
    client.force_login(user)
    assert (
        post(client, "confirm_email_check", {"token": token}).json()["password_required"] is False
    )
