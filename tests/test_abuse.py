"""Abuse told as stories: a stolen session guessing the password, a stranger flooding
third parties with confirmation mail, a signup repeated to flood an owner with notices,
concurrent adds past the address limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

EMAIL_PAGE = reverse("useraccounts:email")
DELETE = reverse("useraccounts:account_delete")
RESEND = reverse("useraccounts:resend_confirmation")

pytestmark = pytest.mark.django_db


def test_a_stolen_session_cannot_guess_the_password_on_the_deletion_page(
    logged_in, account, signals
):
    statuses = [logged_in.post(DELETE, {"password": f"guess {n}"}).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]
    assert logged_in.post(DELETE, {"password": PASSWORD}).status_code == 429  # even right
    assert get_user_model().objects.filter(pk=account.pk).exists()
    codes = [k["error_type"] for k in signals.of("user_deletion_failed")]
    assert codes == ["incorrect_password"] * 5 + ["rate_limited"] * 2


def test_adding_and_removing_addresses_cannot_flood_third_parties(logged_in, mailoutbox):
    for n in range(30):
        email = f"stranger{n}@example.com"
        logged_in.post(EMAIL_PAGE, {"email": email, "action_add": ""})
        logged_in.post(EMAIL_PAGE, {"email": email, "action_remove": ""})
    assert len(mailoutbox) == 10  # "10/h/user": the rest were refused with 429


def test_resend_cannot_flood_from_one_address(client, mailoutbox, settings):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_email": "3/10m/key,5/h/ip"}
    statuses = [
        client.post(RESEND, {"email": f"nobody{n}@example.com"}).status_code for n in range(8)
    ]
    assert statuses == [302] * 5 + [429] * 3
    assert len(mailoutbox) == 5


def test_repeated_signups_with_a_taken_address_send_few_notices(mailoutbox):
    create_account("owner", "owner@example.com")
    for n in range(12):
        data = {"email": "owner@example.com", "password1": PASSWORD, "password2": PASSWORD}
        if has_username():
            data["username"] = f"copycat{n}"
        assert Client().post(reverse("useraccounts:signup"), data).status_code == 302
    assert [m.to for m in mailoutbox] == [["owner@example.com"]] * 2  # "notify": "2/h/key"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_stay_within_the_address_limit(settings, mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL: set DATABASE_URL")
    settings.USERACCOUNTS_RATE_LIMITS = False
    account = create_account()
    barrier = Barrier(12)

    def add(n: int) -> int:
        client = Client()
        client.force_login(account)
        try:
            barrier.wait()
            data = {"email": f"extra{n}@example.com", "action_add": ""}
            return client.post(EMAIL_PAGE, data).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(add, range(12)))
    assert all(status in (200, 302) for status in statuses), statuses
    assert EmailAddress.objects.filter(user=account).count() == 5  # the maximum


# --- Login limits -------------------------------------------------------------------------


LOGIN = reverse("useraccounts:login")


WRONG = "a wrong guess"


def guess(client: Client, login: str, password: str = WRONG) -> int:
    return client.post(LOGIN, {"login": login, "password": password}).status_code


@pytest.mark.skipif(not has_username(), reason="one login name only")
def test_an_account_is_counted_under_every_login_name(account, settings):
    EmailAddress.objects.create(user=account, email="bob2@example.com", verified=True)
    attacker = Client()
    names = ["bob", "BOB", "bob@example.com", "bob2@example.com", "Bob@Example.com"]
    assert [guess(attacker, name) for name in names] == [200] * 5
    assert guess(Client(REMOTE_ADDR="10.9.9.9"), "bob2@example.com") == 429  # any IP


def test_the_owner_with_a_device_cookie_logs_in_while_a_stranger_is_limited(account):
    owner = Client(REMOTE_ADDR="10.0.0.1")
    assert guess(owner, account.email, PASSWORD) == 302  # the browser gets its cookie
    owner.post(reverse("useraccounts:logout"))
    stranger = Client(REMOTE_ADDR="10.0.0.2")
    assert [guess(stranger, account.email) for _ in range(6)] == [200] * 5 + [429]
    assert guess(stranger, account.email, PASSWORD) == 429  # even with the password
    assert guess(Client(REMOTE_ADDR="10.0.0.3"), account.email, PASSWORD) == 429
    assert guess(owner, account.email, PASSWORD) == 302  # the owner's browser is not
    # A cookie forged, or issued for another account, is no cookie.
    forger = Client(REMOTE_ADDR="10.0.0.4")
    forger.cookies["useraccounts_device"] = owner.cookies["useraccounts_device"].value + "x"
    assert guess(forger, account.email, PASSWORD) == 429


def test_a_password_reset_clears_the_accounts_login_counts(account, mailoutbox):
    stranger = Client(REMOTE_ADDR="10.0.0.2")
    assert [guess(stranger, account.email) for _ in range(6)][-1] == 429
    owner = Client(REMOTE_ADDR="10.0.0.1")
    owner.post(reverse("useraccounts:password_reset"), {"email": account.email})
    form_url = owner.get(link_in(mailoutbox[-1]))["Location"]
    new = "the owner's new passphrase"
    owner.post(form_url, {"new_password1": new, "new_password2": new})
    assert guess(owner, account.email, new) == 302
    # The stranger's own address stays counted: 6 of its 20 per 5 minutes are spent.
    assert guess(stranger, account.email) == 200


def test_the_admin_login_is_limited_too(account, settings):
    account.is_staff = True
    account.save()
    admin_login = reverse("admin:login")
    attacker = Client()
    name = account.get_username()
    statuses = [
        attacker.post(admin_login, {"username": name, "password": f"guess {n}"}).status_code
        for n in range(30)
    ]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    # The same allowance as the login page: that account is limited there too.
    assert guess(Client(REMOTE_ADDR="10.0.0.9"), account.email, PASSWORD) == 429
    settings.USERACCOUNTS_LIMIT_ADMIN_LOGIN = False  # a site that limits it otherwise
    assert attacker.post(admin_login, {"username": name, "password": "x"}).status_code == 200


def test_the_admin_login_counts_no_successful_login(account):
    account.is_staff = True
    account.save()
    admin_login = reverse("admin:login")
    for _ in range(8):
        client = Client()
        data = {"username": account.get_username(), "password": PASSWORD}
        assert client.post(admin_login, data).status_code == 302
