"""``manage.py useraccounts_purge_unverified``: what signups nobody confirmed leave behind.

An abandoned signup (never logged in, not staff, every address unverified and past the
confirmation window) is deleted; any other expired unverified row goes, except the
primary row of an account that is kept, the record that its email was never proven.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import create_account
from useraccounts import signals as ua_signals
from useraccounts.audit.receivers import connect_all, disconnect_all
from useraccounts.conf import app_settings
from useraccounts.models import EmailAddress
from useraccounts.users import display_name

pytestmark = pytest.mark.django_db


def purge(*args: str) -> str:
    out = StringIO()
    call_command("useraccounts_purge_unverified", *args, stdout=out)
    return out.getvalue()


def expire(*rows: EmailAddress) -> None:
    """Move the rows' creation to just before the confirmation window."""
    past = timezone.now() - timedelta(seconds=app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS + 5)
    EmailAddress.objects.filter(pk__in=[row.pk for row in rows]).update(created_at=past)


def signup(name: str, *, expired: bool = True) -> tuple:
    """An account as signup leaves it before confirmation: one unverified primary row."""
    user = create_account(name, f"{name}@example.com", verified=False)
    row = EmailAddress.objects.get(user=user)
    if expired:
        expire(row)
    return user, row


def logged_in(user) -> None:
    get_user_model().objects.filter(pk=user.pk).update(last_login=timezone.now())


def add_row(user, email: str, *, verified: bool = False, expired: bool = True) -> EmailAddress:
    row = EmailAddress.objects.create(user=user, email=email, verified=verified)
    if expired:
        expire(row)
    return row


def exists(user) -> bool:
    return get_user_model().objects.filter(pk=user.pk).exists()


def test_an_abandoned_signup_past_the_window_is_deleted(signals):
    user, row = signup("abandoned")
    user_id, name = user.pk, display_name(user)
    assert name  # the username, or the email for a model without one

    out = purge()

    assert "Deleted 1 abandoned account(s)." in out
    assert "Removed 0 expired unverified address row(s)." in out
    assert not exists(user)
    assert not EmailAddress.objects.filter(pk=row.pk).exists()
    signals.assert_once("user_deleted", request=None, user_id=user_id, username=name)
    assert signals.names() == ["user_deleted"]  # no email_removed for its cascaded rows


def test_a_signup_inside_the_window_is_kept(signals):
    user, row = signup("waiting", expired=False)

    assert "Nothing to purge." in purge()

    assert exists(user) and EmailAddress.objects.filter(pk=row.pk).exists()
    assert signals.events == []


def test_an_account_that_logged_in_keeps_its_primary_row_but_loses_an_expired_secondary(
    signals,
):
    user, primary = signup("carol")
    secondary = add_row(user, "carol.other@example.com")
    logged_in(user)

    out = purge()

    assert "Deleted 0 abandoned account(s)." in out
    assert "Removed 1 expired unverified address row(s)." in out
    assert exists(user)
    assert list(EmailAddress.objects.filter(user=user)) == [primary]
    sent = signals.assert_once(
        "email_removed", request=None, user=user, email_address=EmailAddress
    )
    assert sent["email_address"].pk == secondary.pk
    assert sent["email_address"].email == "carol.other@example.com"
    assert sent["email_address"].user_id == user.pk
    assert "user_deleted" not in signals.names()


def test_a_verified_account_loses_an_expired_unverified_secondary(signals):
    user = create_account("dave", "dave@example.com", verified=True)
    expire(EmailAddress.objects.get(user=user))  # a verified row never expires
    secondary = add_row(user, "dave.new@example.com")
    add_row(user, "dave.fresh@example.com", expired=False)  # still inside the window

    purge()

    assert exists(user)
    assert set(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == {
        "dave@example.com",
        "dave.fresh@example.com",
    }
    sent = signals.assert_once(
        "email_removed", request=None, user=user, email_address=EmailAddress
    )
    assert sent["email_address"].pk == secondary.pk


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_staff_and_superusers_are_kept_with_their_primary_row(signals, flag):
    user, row = signup("admin")
    get_user_model().objects.filter(pk=user.pk).update(**{flag: True})

    assert "Nothing to purge." in purge()

    # Without its row the account would look like a user from before the app, whose
    # unproven email field the app would trust.
    assert exists(user) and EmailAddress.objects.filter(pk=row.pk).exists()
    assert signals.events == []


def test_an_account_with_a_live_address_is_kept_and_keeps_its_primary_row(signals):
    user, primary = signup("erin")
    pending = add_row(user, "erin.new@example.com", expired=False)

    assert "Nothing to purge." in purge()

    assert set(EmailAddress.objects.filter(user=user)) == {primary, pending}
    assert signals.events == []


def test_a_user_without_rows_is_never_touched(signals):
    User = get_user_model()
    fields = {"email": "legacy@example.com"}
    if User.USERNAME_FIELD != "email":
        fields[User.USERNAME_FIELD] = "legacy"
    user = User.objects.create(**fields)

    assert "Nothing to purge." in purge()
    assert exists(user)


def test_accounts_that_waited_for_one_address_all_go_and_its_verified_holder_stays(signals):
    holder = create_account("holder", "shared@example.com", verified=True)
    expire(EmailAddress.objects.get(user=holder))
    first = create_account("first", "first@example.com", verified=False)
    second = create_account("second", "second@example.com", verified=False)
    EmailAddress.objects.filter(user__in=[first, second]).update(email="shared@example.com")
    expire(*EmailAddress.objects.filter(user__in=[first, second]))

    assert "Deleted 2 abandoned account(s)." in purge()

    assert exists(holder) and not exists(first) and not exists(second)
    assert EmailAddress.objects.get().user == holder
    assert sorted(str(kwargs["user_id"]) for kwargs in signals.of("user_deleted")) == sorted(
        [str(first.pk), str(second.pk)]
    )


def test_dry_run_changes_nothing_and_sends_nothing(signals):
    abandoned, _row = signup("abandoned")
    kept, _primary = signup("kept")
    logged_in(kept)
    add_row(kept, "kept.other@example.com")
    before = set(EmailAddress.objects.values_list("pk", "email", "verified", "primary"))

    out = purge("--dry-run")

    assert "Would delete 1 abandoned account(s)." in out
    assert "Would remove 1 expired unverified address row(s)." in out
    assert exists(abandoned) and exists(kept)
    assert set(EmailAddress.objects.values_list("pk", "email", "verified", "primary")) == before
    assert signals.events == []

    purge()  # the real run removes what the dry run counted
    assert not exists(abandoned)
    assert EmailAddress.objects.filter(user=kept).count() == 1
    assert signals.names().count("user_deleted") == 1
    assert signals.names().count("email_removed") == 1


def test_a_second_run_is_a_no_op(signals):
    signup("abandoned")
    kept, _primary = signup("kept")
    logged_in(kept)
    add_row(kept, "kept.other@example.com")
    purge()
    left = set(EmailAddress.objects.values_list("pk", flat=True))
    signals.clear()

    out = purge()

    assert "Deleted 0 abandoned account(s)." in out
    assert "Removed 0 expired unverified address row(s)." in out
    assert "Nothing to purge." in out
    assert set(EmailAddress.objects.values_list("pk", flat=True)) == left
    assert signals.events == []
    assert "Would delete 0 abandoned account(s)." in purge("--dry-run")


@pytest.mark.django_db(transaction=True)
def test_signals_are_sent_inside_the_transaction_of_the_deletion():
    signup("abandoned")
    kept, _primary = signup("kept")
    logged_in(kept)
    add_row(kept, "kept.other@example.com")
    seen = []

    def receiver(sender, **kwargs):
        if "user_id" in kwargs:
            gone = not get_user_model().objects.filter(pk=kwargs["user_id"]).exists()
        else:
            gone = not EmailAddress.objects.filter(pk=kwargs["email_address"].pk).exists()
        seen.append((connection.in_atomic_block, gone))

    for signal in (ua_signals.user_deleted, ua_signals.email_removed):
        signal.connect(receiver, weak=False)
    try:
        purge()
    finally:
        for signal in (ua_signals.user_deleted, ua_signals.email_removed):
            signal.disconnect(receiver)
    assert seen == [(True, True), (True, True)]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_rolls_its_deletion_back(failing_receiver):
    user, row = signup("abandoned")
    failing_receiver(ua_signals.user_deleted, "raise")

    with pytest.raises(RuntimeError, match="receiver bug"):
        purge()

    assert exists(user) and EmailAddress.objects.filter(pk=row.pk).exists()


@pytest.fixture
def no_audit():
    disconnect_all()
    yield
    connect_all()


def count_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        purge()
    return len(queries)


def test_queries_do_not_grow_with_the_number_of_accounts(no_audit):
    def story(n: int) -> int:
        for i in range(n):
            signup(f"gone{n}x{i}")
            kept, _row = signup(f"kept{n}x{i}")
            logged_in(kept)
            add_row(kept, f"kept{n}x{i}.other@example.com")
        return count_queries()

    few = story(2)
    many = story(7)
    assert EmailAddress.objects.count() == 2 + 7  # the kept accounts' primary rows
    assert many == few
