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

from tests.conftest import PASSWORD
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


def test_concurrent_signups_for_one_address_make_one_account(mailoutbox):
    statuses = concurrent_signups(lambda n: data(f"racer{n}", "race@example.com"))
    assert all(status in (200, 302) for status in statuses), statuses
    assert EmailAddress.objects.filter(email="race@example.com").count() == 1
    assert get_user_model().objects.count() == 1
    assert EmailAddress.objects.count() == 1


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
