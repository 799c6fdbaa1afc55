"""AUTHENTICATION_BACKENDS takes part in every login: another backend (a directory, SSO)
logs its users in through the app's page, Django's ``user_login_failed`` is sent once for
every refused attempt, the admin's login finds accounts the app's way, a login still
costs one hash and one lookup, and the system checks say how to configure it.

Told with Django's test client and real receivers: the ``signals`` fixture records the
app's own signals; ``login_failures`` is a receiver of Django's ``user_login_failed``.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, authenticate, get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core import checks
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.backends import FixedLoginBackend
from tests.conftest import PASSWORD, create_account, needs_username
from useraccounts.audit.receivers import connect_all, disconnect_all
from useraccounts.exceptions import AuthenticationError
from useraccounts.manager import get_account_manager

pytestmark = pytest.mark.django_db

LOGIN = reverse("useraccounts:login")
ACCOUNT_PAGE = reverse("useraccounts:account")
ADMIN_LOGIN = reverse("admin:login")
ACCOUNT_BACKEND = "useraccounts.backends.AccountBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ALLOW_ALL_BACKEND = "django.contrib.auth.backends.AllowAllUsersModelBackend"
REMOTE_USER_BACKEND = "django.contrib.auth.backends.RemoteUserBackend"
FIXED = "tests.backends.FixedLoginBackend"
DEFAULT = [MODEL_BACKEND]  # Django's default, which the app must work with
LISTED = [ACCOUNT_BACKEND]  # what the docs ask a project to set
WRONG = "a wrong guess"
#: What Django's authenticate() puts in user_login_failed in place of a password.
MASKED = "********************"
#: The query that looks an address up: the one lookup a login by email makes.
ADDRESS_LOOKUP = re.compile(r'^SELECT .* FROM "useraccounts_emailaddress"', re.IGNORECASE)


@pytest.fixture
def login_failures():
    """Every ``user_login_failed`` sent, as a project's receiver (django-axes) sees it."""
    sent: list[dict] = []

    def receiver(sender, credentials, request=None, **kwargs):
        sent.append({"sender": sender, "credentials": credentials, "request": request})

    user_login_failed.connect(receiver, weak=False)
    yield sent
    user_login_failed.disconnect(receiver)


@pytest.fixture
def without_audit():
    """The app alone, as in tests/test_query_budgets.py: no audit row per signal."""
    disconnect_all()
    yield
    connect_all()


def post_login(client: Client, login: str, password: str = PASSWORD):
    return client.post(LOGIN, {"login": login, "password": password})


def check_messages(**overrides) -> dict[str, checks.CheckMessage]:
    with override_settings(**overrides):
        return {m.id: m for m in checks.run_checks() if m.id.startswith("useraccounts.")}


# --- (1) another backend takes part -------------------------------------------------------


@pytest.mark.parametrize(
    "backends",
    [[FIXED, ACCOUNT_BACKEND], [ACCOUNT_BACKEND, FIXED], [MODEL_BACKEND, FIXED]],
    ids=["before-ours", "after-ours", "beside-the-default"],
)
def test_a_directory_backend_logs_its_user_in_through_the_login_page(
    client, settings, signals, login_failures, account, backends
):
    settings.AUTHENTICATION_BACKENDS = backends
    response = post_login(client, FixedLoginBackend.username, FixedLoginBackend.password)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)
    assert client.session["_auth_user_backend"] == FIXED
    signals.assert_once("user_logged_in", user=account)
    assert "user_authentication_failed" not in signals.names()
    assert login_failures == []
    # Django reloads the session's user through that backend on the next request.
    assert client.get(ACCOUNT_PAGE).status_code == 200


@pytest.mark.parametrize(
    ("backends", "recorded"),
    [
        (DEFAULT, MODEL_BACKEND),
        (LISTED, ACCOUNT_BACKEND),
        ([FIXED, ACCOUNT_BACKEND], ACCOUNT_BACKEND),
        ([MODEL_BACKEND, FIXED], MODEL_BACKEND),
    ],
)
def test_the_session_records_the_backend_that_accepted_the_login(
    client, settings, login_failures, account, backends, recorded
):
    """With Django's default setting the app's own backend stands in for ModelBackend,
    whose path the session records: Django reloads users only through listed backends."""
    settings.AUTHENTICATION_BACKENDS = backends
    assert post_login(client, " BOB@example.com").status_code == 302
    assert client.session["_auth_user_backend"] == recorded
    assert login_failures == []
    assert client.get(ACCOUNT_PAGE).status_code == 200


# --- (2) Django's user_login_failed, once per refused attempt -----------------------------

REASONS = [
    "user_not_found",
    "incorrect_password",
    "user_inactive",
    "email_not_verified",
    "rate_limited",
    "unexpected_exception",
]


@pytest.mark.parametrize("backends", [DEFAULT, LISTED], ids=["default", "listed"])
@pytest.mark.parametrize("reason", REASONS)
def test_each_refused_login_sends_user_login_failed_once(
    client, settings, signals, login_failures, backends, reason
):
    settings.AUTHENTICATION_BACKENDS = backends
    user = create_account(
        is_active=reason != "user_inactive", verified=reason != "email_not_verified"
    )
    login = "nobody@example.com" if reason == "user_not_found" else "Bob@Example.com"
    password = WRONG if reason == "incorrect_password" else PASSWORD
    if reason == "unexpected_exception":  # a hasher that fails (a missing native library)
        type(user).objects.filter(pk=user.pk).update(password="broken$salt$hash")
    if reason == "rate_limited":
        settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "1/5m/key"}
        post_login(client, login, WRONG)
        signals.clear()
        login_failures.clear()
    response = post_login(client, login, password)
    assert response.status_code == (429 if reason == "rate_limited" else 200)
    assert "_auth_user_id" not in client.session
    assert signals.one("user_authentication_failed")["reason"] == reason
    assert len(login_failures) == 1, login_failures
    sent = login_failures[0]
    # Shaped as Django's authenticate() sends it: the password's key, never its value.
    assert sent["sender"] == "django.contrib.auth"
    assert sent["credentials"] == {"username": login, "password": MASKED}
    assert password not in repr(sent["credentials"])
    assert sent["request"] is not None and hasattr(sent["request"], "META")


@pytest.mark.parametrize("backends", [DEFAULT, LISTED], ids=["default", "listed"])
def test_a_successful_login_sends_no_user_login_failed(
    client, settings, login_failures, account, backends
):
    settings.AUTHENTICATION_BACKENDS = backends
    assert post_login(client, account.email).status_code == 302
    assert login_failures == []


@pytest.mark.parametrize("backends", [DEFAULT, LISTED], ids=["default", "listed"])
def test_a_receiver_of_user_login_failed_that_raises_hears_the_attempt_once(
    client, settings, signals, account, backends
):
    """Django sends the signal without catching a receiver's exception; the attempt is
    then refused as a fault, and the signal is not sent a second time for it."""
    settings.AUTHENTICATION_BACKENDS = backends
    heard = []

    def receiver(**kwargs):
        heard.append(kwargs["credentials"])
        raise RuntimeError("receiver bug")

    user_login_failed.connect(receiver, weak=False)
    try:
        response = post_login(client, account.email, WRONG)
    finally:
        user_login_failed.disconnect(receiver)
    assert response.status_code == 200
    assert heard == [{"username": account.email, "password": MASKED}]
    assert signals.one("user_authentication_failed")["reason"] == "unexpected_exception"


def test_a_fault_while_starting_the_session_sends_user_login_failed_once(
    client, settings, faults, signals, login_failures, account
):
    """Every refusal the app signals (user_authentication_failed), Django's signal
    tells too: here the credentials were right, but last_login could not be written."""
    settings.AUTHENTICATION_BACKENDS = LISTED
    with faults.database(r'SET "last_login"'):
        response = post_login(client, account.email)
    assert response.status_code == 503
    assert signals.one("user_authentication_failed")["reason"] == "repository_error"
    assert [sent["credentials"] for sent in login_failures] == [
        {"username": account.get_username(), "password": MASKED}
    ]


# --- (3) one hash and one lookup per attempt ---------------------------------------------


@pytest.mark.parametrize("login", ["bob@example.com", "nobody@example.com"])
@pytest.mark.parametrize("password", [PASSWORD, WRONG])
@pytest.mark.parametrize(
    "hashers", [["tests.hashers.CountingArgon2Hasher"], ["tests.hashers.CountingMD5Hasher"]]
)
def test_every_attempt_costs_one_hash_with_account_backend_listed(
    client, settings, hash_count, login, password, hashers
):
    settings.PASSWORD_HASHERS = hashers
    settings.AUTHENTICATION_BACKENDS = LISTED
    create_account()
    start = hash_count()
    post_login(client, login, password)
    assert hash_count() - start == 1


def test_modelbackend_beside_account_backend_would_hash_twice_so_the_check_warns(
    client, settings, hash_count, account
):
    settings.AUTHENTICATION_BACKENDS = [ACCOUNT_BACKEND, MODEL_BACKEND]
    start = hash_count()
    post_login(client, account.get_username(), WRONG)
    assert hash_count() - start == 2  # ours refuses, then ModelBackend hashes again
    assert "useraccounts.W004" in check_messages(
        AUTHENTICATION_BACKENDS=[ACCOUNT_BACKEND, MODEL_BACKEND]
    )


@pytest.mark.parametrize("backends", [DEFAULT, LISTED], ids=["default", "listed"])
@pytest.mark.parametrize("via", ["page", "code"])
def test_the_backend_reuses_the_lookup_made_before_the_attempt_was_counted(
    client, settings, without_audit, account, backends, via
):
    """The account is found before the attempt is counted (so the limit holds); the
    backend checks that account's password without looking it up again, whether or not
    there is a request to carry it."""
    settings.AUTHENTICATION_BACKENDS = backends
    with CaptureQueriesContext(connection) as queries:
        if via == "page":
            assert post_login(client, account.email, WRONG).status_code == 200
        else:
            with pytest.raises(AuthenticationError, match="do not match"):
                get_account_manager().authenticate_user(None, login=account.email, password=WRONG)
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]


# --- (4) Django's admin login -------------------------------------------------------------


def test_the_admin_login_finds_a_staff_user_by_email(client, settings, signals):
    settings.AUTHENTICATION_BACKENDS = LISTED
    staff = create_account()
    staff.is_staff = True
    staff.save()
    data = {"username": " BOB@Example.com", "password": PASSWORD, "next": "/admin/"}
    response = client.post(ADMIN_LOGIN, data)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.session["_auth_user_backend"] == ACCOUNT_BACKEND
    signals.assert_once("user_password_checked", user=staff, success=True)
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_password_on_the_admin_login_costs_one_lookup_and_one_hash(
    client, settings, hash_count, login_failures, without_audit
):
    settings.AUTHENTICATION_BACKENDS = LISTED
    staff = create_account()
    staff.is_staff = True
    staff.save()
    start = hash_count()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(ADMIN_LOGIN, {"username": staff.email, "password": WRONG})
    assert response.status_code == 200
    assert hash_count() - start == 1
    lookups = [q["sql"] for q in queries.captured_queries if ADDRESS_LOOKUP.match(q["sql"])]
    assert len(lookups) == 1, lookups  # the limit's lookup, reused by the backend
    assert [sent["credentials"] for sent in login_failures] == [
        {"username": staff.email, "password": MASKED}
    ]


@needs_username
def test_the_admin_login_counts_the_account_however_its_name_is_spelled(settings):
    """Django's form hands authenticate() the NFKC form of what was typed: "bob" in
    fullwidth letters logs in as bob, so it must count against bob's allowance, not as
    one more unknown login with an allowance of its own."""
    settings.AUTHENTICATION_BACKENDS = LISTED
    create_account()
    b, o = "\uff42", "\uff4f"  # fullwidth b and o
    spellings = [f"{b}ob", f"b{o}b", f"bo{b}", f"{b}{o}b", f"{b}o{b}", f"b{o}{b}"]
    attacker = Client()
    statuses = [
        attacker.post(ADMIN_LOGIN, {"username": name, "password": WRONG}).status_code
        for name in spellings
    ]
    assert statuses == [200] * 5 + [429]  # "5/5m/key": the account's allowance


def test_django_authenticate_takes_the_username_field_keyword(settings, account):
    """What other code passes: ``username=``, or the user model's USERNAME_FIELD."""
    settings.AUTHENTICATION_BACKENDS = LISTED
    field = get_user_model().USERNAME_FIELD
    assert authenticate(None, username=account.email, password=PASSWORD) == account
    assert authenticate(None, **{field: account.get_username(), "password": PASSWORD}) == account
    assert authenticate(None, **{field: account.get_username(), "password": WRONG}) is None


def test_djangos_async_authenticate_finds_the_account_the_same_way(settings, account):
    """ModelBackend's own aauthenticate() would look up USERNAME_FIELD only."""
    settings.AUTHENTICATION_BACKENDS = LISTED
    assert async_to_sync(aauthenticate)(None, username=account.email, password=PASSWORD) == account
    assert async_to_sync(aauthenticate)(None, username=account.email, password=WRONG) is None


# --- (5) the system checks ----------------------------------------------------------------


@pytest.mark.parametrize("other", [MODEL_BACKEND, ALLOW_ALL_BACKEND])
def test_a_modelbackend_beside_account_backend_is_a_warning(other):
    found = check_messages(AUTHENTICATION_BACKENDS=[ACCOUNT_BACKEND, other])
    warning = found["useraccounts.W004"]
    assert isinstance(warning, checks.Warning)
    assert other in warning.msg
    assert f'Remove "{other}"' in warning.hint
    assert "permissions" in warning.hint
    assert "useraccounts.I001" not in found


@pytest.mark.parametrize(
    "backends",
    [LISTED, [FIXED, ACCOUNT_BACKEND], [ACCOUNT_BACKEND, REMOTE_USER_BACKEND]],
)
def test_account_backend_with_backends_that_do_not_hash_again_passes(backends):
    found = check_messages(AUTHENTICATION_BACKENDS=backends)
    assert "useraccounts.W004" not in found
    assert "useraccounts.I001" not in found


@pytest.mark.parametrize("backends", [DEFAULT, [MODEL_BACKEND, FIXED]])
def test_the_default_setting_gets_a_hint_to_list_account_backend(backends):
    found = check_messages(AUTHENTICATION_BACKENDS=backends)
    info = found["useraccounts.I001"]
    assert isinstance(info, checks.Info)
    assert not isinstance(info, checks.Warning)
    assert 'AUTHENTICATION_BACKENDS = ["useraccounts.backends.AccountBackend"]' in info.hint
    assert "useraccounts.W004" not in found


def test_the_demo_site_lists_account_backend():
    from testproject import settings as demo

    assert demo.AUTHENTICATION_BACKENDS == [ACCOUNT_BACKEND]
