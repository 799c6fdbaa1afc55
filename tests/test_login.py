"""Login and logout: each refusal reason, one password hash per attempt, safe redirects,
rate limits, sessions."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, login_name, needs_username
from useraccounts import signals as ua_signals
from useraccounts.exceptions import AuthenticationError
from useraccounts.manager import get_account_manager
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db
LOGIN = reverse("useraccounts:login")
LOGOUT = reverse("useraccounts:logout")


def post_login(client, login, password=PASSWORD, *, meta=None, **data):
    return client.post(LOGIN, {"login": login, "password": password, **data}, **(meta or {}))


def assert_refused(client, signals, response, reason, login, user=None):
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    signals.assert_once(
        "user_authentication_failed", username=login, reason=reason, user=user, exception=Exception
    )
    assert "user_logged_in" not in signals.names()


def test_unknown_account(client, signals, hash_count):
    response = post_login(client, "nobody@example.com")
    assert "do not match an account" in response.content.decode()
    assert_refused(client, signals, response, "user_not_found", "nobody@example.com")
    assert hash_count() == 1
    assert "user_password_checked" not in signals.names()


def test_wrong_password(client, signals, account, hash_count):
    response = post_login(client, account.email, "wrong password")
    assert "do not match an account" in response.content.decode()
    assert_refused(client, signals, response, "incorrect_password", account.email, account)
    signals.assert_once("user_password_checked", user=account, success=False)
    assert hash_count() == 1


def test_unknown_and_wrong_password_pages_are_alike(client, account):
    wrong = post_login(client, account.email, "wrong password")
    unknown = post_login(client, "nobody@example.com", "wrong password")
    assert wrong.context["form"].errors == unknown.context["form"].errors


def test_inactive_account(client, signals, hash_count):
    user = create_account(is_active=False)
    before = hash_count()
    response = post_login(client, user.email)
    assert "This account is inactive" in response.content.decode()
    assert_refused(client, signals, response, "user_inactive", user.email, user)
    assert hash_count() - before == 1


@pytest.mark.parametrize("stored", ["!unusable", "gone_algorithm$1$salt$hash", ""])
def test_an_account_without_a_usable_password_costs_one_hash(client, signals, hash_count, stored):
    user = create_account()
    type(user).objects.filter(pk=user.pk).update(password=stored)
    before = hash_count()
    response = post_login(client, user.email)
    assert hash_count() - before == 1
    user.refresh_from_db()
    assert_refused(client, signals, response, "incorrect_password", user.email, user)
    signals.assert_once("user_password_checked", user=user, success=False)


def test_an_outdated_hash_is_upgraded_on_login(client, signals, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "tests.hashers.CountingMD5Hasher",
    ]
    user = create_account()
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[::-1]
    assert post_login(client, user.email).status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("counting_md5$")
    signals.assert_once("user_password_set", user=user)
    signals.assert_once("user_password_checked", user=user, success=True)


def test_inactive_account_with_a_wrong_password_says_only_wrong(client, signals):
    user = create_account(is_active=False)
    response = post_login(client, user.email, "wrong password")
    assert "inactive" not in response.content.decode()
    assert_refused(client, signals, response, "incorrect_password", user.email, user)


def test_unverified_account_in_mandatory_mode(client, signals):
    user = create_account(verified=False)
    response = post_login(client, user.email)
    assert "Confirm your email address" in response.content.decode()
    assert f'value="{user.email}"' in response.content.decode()
    assert_refused(client, signals, response, "email_not_verified", user.email, user)


@needs_username
def test_an_unverified_account_logging_in_by_username_need_not_type_its_address(
    client, mailoutbox
):
    """The password proved the account: the page offers the link for its waiting
    address, filled in, rather than asking the visitor to type it."""
    user = create_account("carol", "carol@example.com", verified=False)
    response = post_login(client, "CAROL")
    assert 'id="id_resend_email" autocomplete="email" required value="carol@example.com"' in (
        response.content.decode()
    )
    # A wrong password tells nothing of the kind.
    wrong = post_login(client, "carol", "not the password")
    assert "id_resend_email" not in wrong.content.decode()
    assert user.email not in wrong.content.decode()


@pytest.mark.parametrize("mode", ["optional", "none"])
def test_unverified_account_may_log_in_when_not_mandatory(client, signals, settings, mode):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = mode
    user = create_account(verified=False)
    assert post_login(client, user.email).status_code == 302
    signals.assert_once("user_logged_in", user=user)


def test_hasher_failure_is_an_unexpected_exception(client, signals, account):
    type(account).objects.filter(pk=account.pk).update(password="broken$salt$hash")
    response = post_login(client, account.email)
    assert "Something went wrong on our side" in response.content.decode()
    account.refresh_from_db()
    signals.assert_once("user_password_check_failed", user=account, exception=RuntimeError)
    assert_refused(client, signals, response, "unexpected_exception", account.email, account)


def test_email_login_is_case_insensitive_and_ignores_spaces(client, account):
    assert post_login(client, "  BOB@Example.COM ").status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


@needs_username
def test_login_methods_setting(client, signals, settings, account):
    settings.USERACCOUNTS_LOGIN_METHODS = ["email"]
    response = post_login(client, "bob")
    assert_refused(client, signals, response, "user_not_found", "bob")
    assert response.context["form"].fields["login"].label == "Email address"
    settings.USERACCOUNTS_LOGIN_METHODS = ["username"]
    signals.clear()
    response = post_login(client, "bob@example.com")
    assert_refused(client, signals, response, "user_not_found", "bob@example.com")
    assert post_login(client, "bob").status_code == 302


@needs_username
def test_username_with_an_at_sign_still_logs_in(client):
    user = create_account("bob@home", "bob@example.com")
    assert post_login(client, "bob@home").status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("hashers", "expected"),
    [(["tests.hashers.CountingArgon2Hasher"], 1), (["tests.hashers.CountingMD5Hasher"], 1)],
)
def test_every_attempt_costs_exactly_one_hash(client, settings, hash_count, hashers, expected):
    settings.PASSWORD_HASHERS = hashers
    active = create_account("bob", "bob@example.com")
    inactive = create_account("ina", "ina@example.com", is_active=False)
    attempts = [
        (active.email, PASSWORD),
        (active.email, "wrong password"),
        ("nobody@example.com", PASSWORD),
        (inactive.email, PASSWORD),
        (inactive.email, "wrong password"),
    ]
    if has_username():
        attempts.append(("nobody", PASSWORD))
    for login, password in attempts:
        start = hash_count()
        post_login(client, login, password)
        client.logout()
        assert hash_count() - start == expected, login


def test_safe_next_is_followed_and_unsafe_next_ignored(client, account, settings):
    assert (
        post_login(client, account.email, next="/somewhere/?a=1")["Location"] == "/somewhere/?a=1"
    )
    for unsafe in ("https://evil.example/", "//evil.example/", "javascript:alert(1)", "\\\\evil"):
        client.logout()
        assert (
            post_login(client, account.email, next=unsafe)["Location"]
            == settings.LOGIN_REDIRECT_URL
        )


def test_login_page_keeps_a_safe_next_only(client, db):
    assert 'value="/inbox/"' in client.get(LOGIN, {"next": "/inbox/"}).content.decode()
    assert "evil" not in client.get(LOGIN, {"next": "https://evil.example/"}).content.decode()


def test_remember_controls_session_expiry(client, account, settings):
    post_login(client, account.email)
    assert client.session.get_expire_at_browser_close()
    client.logout()
    post_login(client, account.email, remember="on")
    assert not client.session.get_expire_at_browser_close()
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_login_rotates_the_session_key(client, account):
    client.get(LOGIN)
    session = client.session
    session["before"] = 1
    session.save()
    before = session.session_key
    post_login(client, account.email)
    assert client.session.session_key != before


def test_failed_logins_per_login_are_rate_limited(client, signals, settings, clock, account):
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "3/5m/key"}
    for _ in range(3):
        post_login(client, account.email, "wrong password")
    signals.clear()
    limited = post_login(client, account.email)  # even the right password waits
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    assert 0 < int(limited["Retry-After"]) <= 300
    signals.assert_once(
        "user_authentication_failed",
        username=account.email,
        reason="rate_limited",
        user=account,  # found before the attempt was counted
        exception=Exception,
    )
    clock.advance(300)
    assert post_login(client, account.email).status_code == 302


def test_failed_logins_per_ip_are_rate_limited(client, signals, settings, clock, account):
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "3/5m/ip"}
    for n in range(3):
        post_login(client, f"user{n}@example.com")
    signals.clear()
    limited = post_login(client, account.email)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    signals.assert_once(
        "user_authentication_failed",
        username=account.email,
        reason="rate_limited",
        user=account,  # found before the attempt was counted
        exception=Exception,
    )
    assert post_login(client, account.email, meta={"REMOTE_ADDR": "10.1.1.1"}).status_code == 302
    client.logout()
    clock.advance(300)
    assert post_login(client, account.email).status_code == 302


def test_a_successful_login_does_not_reset_the_failure_count(client, settings, account):
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "3/5m/key"}
    post_login(client, account.email, "wrong password")
    post_login(client, account.email, "wrong password")
    assert post_login(client, account.email).status_code == 302
    client.logout()
    post_login(client, account.email, "wrong password")
    assert post_login(client, account.email).status_code == 429


def test_rate_limits_can_be_disabled(client, settings, account):
    settings.USERACCOUNTS_RATE_LIMITS = False
    for _ in range(30):
        post_login(client, account.email, "wrong password")
    assert post_login(client, account.email).status_code == 302


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"login": "", "password": ""},
        {"login": "a\x00b", "password": "x"},
        {"login": "x" * 10000, "password": "x"},
        {"login": "bob", "password": "p" * 5000},
    ],
)
def test_malformed_input_is_a_form_error_not_an_attempt(client, signals, data):
    response = client.post(LOGIN, data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert signals.names() == []


def test_authenticate_user_from_code_raises_with_the_reason(account):
    manager = get_account_manager()
    assert manager.authenticate_user(None, login=login_name(account), password=PASSWORD) == account
    with pytest.raises(AuthenticationError) as raised:
        manager.authenticate_user(None, login=login_name(account), password="nope")
    assert raised.value.code == "incorrect_password"


def test_logout_takes_a_post(client, signals, account):
    client.force_login(account)
    page = client.get(LOGOUT)
    assert 'method="post"' in page.content.decode()
    assert signals.names() == []
    response = client.post(LOGOUT, {"next": "/bye/"})
    assert response["Location"] == "/bye/"
    signals.assert_once("user_logged_out", user=account)
    assert "_auth_user_id" not in client.session


def test_logout_when_not_logged_in_sends_nothing(client, signals, db):
    assert "You are not logged in" in client.get(LOGOUT).content.decode()
    assert client.post(LOGOUT).status_code == 302
    assert signals.names() == []


def test_logout_needs_csrf(account):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert client.post(LOGOUT).status_code == 403
    assert get_user_model().objects.count() == 1
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("kind", ["raise", "sql"])
def test_a_failing_logout_receiver_still_ends_the_session(
    client, account, signals, failing_receiver, caplog, kind
):
    """Logging out on a shared computer must work even when a project's receiver has a
    bug: the session ends, the receiver's writes roll back, and its error is logged."""
    client.force_login(account)
    failing_receiver(ua_signals.user_logged_out, kind)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("useraccounts:account")).status_code == 302  # to log in
    signals.assert_once("user_logged_out", user=account)
    (logged,) = [r for r in caplog.records if "user_logged_out" in r.getMessage()]
    assert logged.levelname == "ERROR" and logged.exc_info is not None
