"""Migration 0002 ("only a verified address belongs to an account") on today's data.

Each test takes ``useraccounts`` back to 0001 (the user model's own migrations stay as
they are), stores rows the way the old schema allowed through the historical models,
migrates forward and checks the rows and the constraints the database now enforces.
The suite runs once per database (SQLite, and PostgreSQL with DATABASE_URL), so the same
tests run on both. The database is always left fully migrated for the tests that follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from useraccounts.models import EmailAddress
from useraccounts.users import ci_index_fields, ci_index_name

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("useraccounts", "0001_initial")
AFTER = ("useraccounts", "0002_verified_addresses_only")
T0 = timezone.now() - timedelta(days=30)


class Migrator:
    """``useraccounts`` at 0001, the historical models to fill it, then forward."""

    def __init__(self) -> None:
        executor = MigrationExecutor(connection)
        # Only what depends on useraccounts' later migrations is unapplied: the user
        # model's migrations (auth or custom_user) are left alone.
        executor.migrate([BEFORE])
        executor.loader.build_graph()
        others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != BEFORE[0]]
        self.old_apps: Apps = executor.loader.project_state([BEFORE, *others]).apps

    def model(self, label: str) -> Any:
        return self.old_apps.get_model(label)

    def forward(self) -> None:
        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])


@pytest.fixture
def migrator() -> Iterator[Migrator]:
    try:
        yield Migrator()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def login_field() -> str:
    return get_user_model().USERNAME_FIELD


def old_user(migrator: Migrator, login: str, email: str | None = None) -> Any:
    """A user stored through the historical user model: ``login`` is the username, or
    the email for a model whose login is the email."""
    User = migrator.model(get_user_model()._meta.label)
    fields = {"password": "!", "email": email or f"{login.lower()}@users.example"}
    fields[login_field()] = login
    return User._default_manager.create(**fields)


def old_row(migrator: Migrator, user: Any, email: str, **fields: Any) -> Any:
    Row = migrator.model("useraccounts.EmailAddress")
    return Row._default_manager.create(user_id=user.pk, email=email, **fields)


def new_user(login: str) -> Any:
    User = get_user_model()
    fields = {"email": f"{login.lower()}@new.example"}
    fields[login_field()] = login
    return User._default_manager.create(**fields)


def user_indexes() -> dict[str, dict[str, Any]]:
    User = get_user_model()
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, User._meta.db_table)
    return {
        field: constraints.get(ci_index_name(User, field)) for field, _ in ci_index_fields(User)
    }


def rows_of(user: Any) -> list[tuple[str, bool, bool]]:
    return sorted(
        EmailAddress.objects.filter(user_id=user.pk).values_list("email", "verified", "primary")
    )


def test_0002_normalizes_merges_and_enforces_one_verified_holder(migrator):
    bob = old_user(migrator, "bob")
    old_row(migrator, bob, "Bob@ＥXAMPLE.com", primary=True, verified=True, verified_at=T0)
    idn = old_user(migrator, "idn")
    old_row(migrator, idn, "x@exämple.com", primary=True)
    # Two rows of one account that are one address now: the verified one stays.
    merged = old_user(migrator, "merged")
    kept = old_row(
        migrator, merged, "merged@example.com", primary=True, verified=True, verified_at=T0
    )
    old_row(migrator, merged, "MERGED@ｅxample.com")
    # Two accounts had the address verified: the first to verify it keeps it, whatever
    # the order of the rows.
    late = old_user(migrator, "late")
    old_row(migrator, late, "dup@example.com", verified=True, verified_at=T0 + timedelta(days=2))
    early = old_user(migrator, "early")
    old_row(migrator, early, "DUP@example.com", verified=True, verified_at=T0 + timedelta(days=1))
    # Two accounts waiting for one address: both keep waiting.
    first = old_user(migrator, "first")
    old_row(migrator, first, "pending@example.com", primary=True)
    second = old_user(migrator, "second")
    old_row(migrator, second, "Pending@Example.com", primary=True)
    # Logins that differ only in letter case (usernames, or login emails).
    old_user(migrator, "Carol", "carol.upper@users.example")
    old_user(migrator, "carol", "carol.lower@users.example")

    migrator.forward()

    assert rows_of(bob) == [("bob@example.com", True, True)]
    assert rows_of(idn) == [("x@xn--exmple-cua.com", False, True)]
    assert rows_of(merged) == [("merged@example.com", True, True)]
    assert EmailAddress.objects.get(user_id=merged.pk).pk == kept.pk
    assert rows_of(late) == [("dup@example.com", False, False)]
    assert EmailAddress.objects.get(user_id=late.pk).verified_at is None
    assert rows_of(early) == [("dup@example.com", True, False)]
    assert EmailAddress.objects.get(user_id=early.pk).verified_at == T0 + timedelta(days=1)
    assert rows_of(first) == rows_of(second) == [("pending@example.com", False, True)]

    # Duplicate logins exist: the login index is there, but cannot be unique.
    indexes = user_indexes()
    assert set(indexes) == {field for field, _ in ci_index_fields(get_user_model())}
    assert all(index is not None and not index["unique"] for index in indexes.values())

    # The database now enforces the rules.
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAddress.objects.create(user_id=idn.pk, email="bob@example.com", verified=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAddress.objects.create(user_id=bob.pk, email="bob@example.com")
    EmailAddress.objects.create(user_id=idn.pk, email="bob@example.com")  # unverified: fine
    EmailAddress.objects.create(user_id=first.pk, email="new@example.com")
    EmailAddress.objects.create(user_id=second.pk, email="new@example.com")
    assert EmailAddress.objects.filter(email="new@example.com").count() == 2


def test_0002_makes_the_login_index_unique_when_no_logins_clash(migrator):
    old_user(migrator, "Alice")
    old_user(migrator, "dora")

    migrator.forward()

    indexes = user_indexes()
    for field, unique in ci_index_fields(get_user_model()):
        assert indexes[field] is not None, field
        assert indexes[field]["unique"] is unique, field
    new_user("Carol")
    with pytest.raises(IntegrityError), transaction.atomic():
        new_user("carol")
    with pytest.raises(IntegrityError), transaction.atomic():
        new_user("ALICE")


def test_0002_merging_two_rows_of_an_account_keeps_its_primary_address(migrator):
    """The primary row was the unverified spelling, the verified row another one."""
    user = old_user(migrator, "pat")
    old_row(migrator, user, "pat@example.com", primary=True)
    old_row(migrator, user, "pat@ｅxample.com", verified=True, verified_at=T0)

    migrator.forward()

    assert rows_of(user) == [("pat@example.com", True, True)]


def test_0002_gives_an_address_to_the_same_account_on_every_database(migrator):
    """A verified row with no ``verified_at`` (``useraccounts_sync_emails`` makes them:
    verified before the app recorded when) competes with one verified at a known time.
    Whichever rule the migration picks, SQLite and PostgreSQL must pick the same holder:
    the one verified before the app recorded times."""
    synced = old_user(migrator, "synced")
    old_row(migrator, synced, "shared@example.com", primary=True, verified=True)
    confirmed = old_user(migrator, "confirmed")
    old_row(migrator, confirmed, "Shared@Example.com", primary=True, verified=True, verified_at=T0)

    migrator.forward()

    assert rows_of(synced) == [("shared@example.com", True, True)]
    assert rows_of(confirmed) == [("shared@example.com", False, True)]
