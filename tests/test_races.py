"""Races the database settles: concurrent signups for one address or one username make
one account, a reset link posted many times at once resets once, and every other request
gets a clean answer, never a server error."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, link_in
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 20


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent inserts need PostgreSQL: set DATABASE_URL")
    settings.USERACCOUNTS_RATE_LIMITS = False  # all the requests come from one address


def concurrent_signups(make_data) -> list[int]:
    """Post THREADS signups at the same moment; the status of each response."""
    barrier = Barrier(THREADS)

    def signup(n: int) -> int:
        client = Client()
        try:
            barrier.wait()
            return client.post(reverse("useraccounts:signup"), make_data(n)).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(signup, range(THREADS)))


def data(username: str, email: str) -> dict:
    fields = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    if has_username():
        fields["username"] = username
    return fields


def test_concurrent_signups_for_one_address_each_wait_for_confirmation(mailoutbox):
    # An unverified address reserves nothing: with a username, each signup is an
    # ordinary one with its own link. Where the email is the login, the user table holds
    # one account per address: one signup wins, the others get a clean answer.
    statuses = concurrent_signups(lambda n: data(f"racer{n}", "race@example.com"))
    assert all(status in (200, 302) for status in statuses), statuses
    rows = EmailAddress.objects.filter(email="race@example.com")
    assert not rows.filter(verified=True).exists()
    expected = THREADS if has_username() else 1
    assert rows.count() == get_user_model().objects.count() == expected
    assert statuses.count(302) >= expected


def test_concurrent_confirmations_of_one_address_give_it_to_one_account(mailoutbox, signals):
    """20 accounts hold one address unverified; each confirms it at the same moment, in
    its own logged-in browser: exactly one wins, the others get a clear page."""
    users = []
    for n in range(THREADS):
        User = get_user_model()
        fields = {"email": f"racer{n}@example.com"}
        if has_username():
            fields["username"] = f"racer{n}"
        user = User.objects.create_user(password=PASSWORD, **fields)
        EmailAddress.objects.create(user=user, email=f"racer{n}@example.com", primary=True)
        users.append(user)
    manager = get_account_manager()
    links = []
    for user in users:
        address = EmailAddress.objects.create(user=user, email="shared@example.com")
        manager.send_email_confirmation(None, address)
        links.append(link_in(mailoutbox[-1]))
    barrier = Barrier(THREADS)

    def confirm(n: int) -> tuple[int, str]:
        client = Client()
        client.force_login(users[n])
        try:
            barrier.wait()
            response = client.post(links[n])
            return response.status_code, response.content.decode()
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(confirm, range(THREADS)))
    statuses = [status for status, _body in results]
    assert statuses.count(302) == 1, statuses
    assert all(status in (302, 400, 409) for status in statuses), statuses
    for status, body in results:
        if status != 302:
            assert "confirmed for another account" in body or "invalid or has already" in body
    winner = users[statuses.index(302)]
    rows = EmailAddress.objects.filter(email="shared@example.com")
    assert [(row.user_id, row.verified) for row in rows] == [(winner.pk, True)]
    assert signals.names().count("email_confirmed") == 1
    assert signals.names().count("email_removed") == THREADS - 1
    assert signals.names().count("user_email_verification_failed") == THREADS - 1


@pytest.mark.skipif(not has_username(), reason="the user model has no username field")
def test_concurrent_signups_for_one_username_make_one_account():
    statuses = concurrent_signups(lambda n: data("racer", f"racer{n}@example.com"))
    assert all(status in (200, 302) for status in statuses), statuses
    assert statuses.count(302) == 1
    assert get_user_model().objects.count() == 1
    assert EmailAddress.objects.count() == 1


@pytest.mark.parametrize("with_receivers", [False, True], ids=["no receivers", "receivers"])
def test_one_reset_link_posted_at_once_resets_once(request, mailoutbox, with_receivers):
    # Without receivers the reset opens no transaction: its conditional UPDATE alone
    # makes the link single-use. With them, the receivers share a transaction.
    from tests.conftest import create_account, link_in

    account = create_account()
    Client().post(reverse("useraccounts:password_reset"), {"email": "bob@example.com"})
    opener = Client()
    form_url = opener.get(link_in(mailoutbox[-1]))["Location"]
    log = request.getfixturevalue("signals") if with_receivers else None
    barrier = Barrier(THREADS)

    def reset(n: int) -> int:
        client = Client()
        client.cookies = opener.cookies  # the one session holding the token
        new = f"racing passphrase number {n}"
        try:
            barrier.wait()
            response = client.post(form_url, {"new_password1": new, "new_password2": new})
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(reset, range(THREADS)))
    assert statuses.count(302) == 1, statuses
    assert all(status in (200, 302, 400) for status in statuses), statuses
    account.refresh_from_db()
    winner = statuses.index(302)
    assert account.check_password(f"racing passphrase number {winner}")
    if log is not None:
        assert log.names().count("password_reset") == 1
        assert log.names().count("password_reset_failed") == THREADS - 1
