"""``manage.py useraccounts_purge_unverified``: remove what unverified addresses left behind.

Why: only a verified address belongs to an account. An unverified one reserves nothing
and, once the confirmation window (``USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS``)
has passed, proves nothing either: the app already ignores it (``EmailAddress.expired``,
``models.newest_waiting()``). Those rows, and the accounts made by signups that were
never confirmed, would otherwise pile up for ever. This command removes them:

- an *abandoned signup* (never logged in, not staff, not superuser, with address rows
  none of which is verified and all of which have expired) is deleted with its rows,
  and ``user_deleted`` is sent for it;
- every other expired unverified row is removed, and ``email_removed`` is sent for it,
  except the primary row of an account that is kept. That row records that the
  account's own email was never proven: without it the account would have no rows and
  look like a user from before the app, whose email field the app trusts for login and
  password reset.

Each batch is one transaction; the signals are sent inside it, before commit, so a
receiver's writes commit or roll back with the deletion. The selection is set-based
(a few queries per batch, none per user) and every candidate is checked again, locked,
inside its transaction, so an account that verifies an address or logs in meanwhile is
kept. Running the command again removes nothing more.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandParser
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q

from useraccounts import signals
from useraccounts.models import EmailAddress, confirmation_cutoff
from useraccounts.users import display_name

BATCH = 500


def has_field(model: type[models.Model], name: str) -> bool:
    """Whether ``name`` is a concrete database field of ``model`` (a custom user model
    may lack ``is_staff`` or ``is_superuser``, or make them properties)."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return getattr(field, "concrete", False)


def abandoned_users(cutoff: datetime) -> models.QuerySet:
    """Users made by a signup nobody confirmed: never logged in, not staff, with at least
    one address row, none verified and none still inside the confirmation window.

    Without a ``last_login`` field nobody can tell who logged in: no account qualifies.
    """
    User = get_user_model()
    users = User._default_manager.all()
    if not has_field(User, "last_login"):
        return users.none()
    users = users.filter(last_login__isnull=True)
    for flag in ("is_staff", "is_superuser"):
        if has_field(User, flag):
            users = users.filter(**{flag: False})
    rows = EmailAddress.objects.filter(user=OuterRef("pk"))
    live = rows.filter(Q(verified=True) | Q(created_at__gte=cutoff))
    return users.filter(Exists(rows)).exclude(Exists(live))


def expired_rows(cutoff: datetime) -> models.QuerySet:
    """Expired unverified rows of the accounts that are kept, but never a primary one."""
    return (
        EmailAddress.objects.filter(verified=False, created_at__lt=cutoff, primary=False)
        .exclude(user__in=abandoned_users(cutoff).values("pk"))
        .order_by("pk")
    )


def chunks(values: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Command(BaseCommand):
    help = (
        "Delete the accounts of signups that were never confirmed (never logged in, not "
        "staff or superuser, every address unverified and past the confirmation window "
        "USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS), sending user_deleted for each; "
        "then remove every other expired unverified address row, sending email_removed "
        "for each, except a kept account's primary row (the record that its email was "
        "never proven). Safe to run again, e.g. daily from cron: a second run removes "
        "nothing more. --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be removed; change nothing and send no signal",
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        cutoff = confirmation_cutoff()
        if dry_run:
            accounts = len(self.abandoned_pks(cutoff))
            rows = expired_rows(cutoff).count()
            self.stdout.write(f"Would delete {accounts} abandoned account(s).")
            self.stdout.write(f"Would remove {rows} expired unverified address row(s).")
            return
        accounts = self.delete_accounts(cutoff)
        rows = self.remove_rows(cutoff)
        self.stdout.write(f"Deleted {accounts} abandoned account(s).")
        self.stdout.write(f"Removed {rows} expired unverified address row(s).")
        if not accounts and not rows:
            self.stdout.write("Nothing to purge.")

    @staticmethod
    def keep(user: models.Model) -> bool:
        """Staff and superusers are never deleted, whatever the model calls its flags
        (Django's custom user example makes ``is_staff`` a property)."""
        return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))

    def abandoned_pks(self, cutoff: datetime) -> list[Any]:
        """The pks of the accounts to delete: one query, read in chunks."""
        users = abandoned_users(cutoff).order_by("pk").iterator(chunk_size=BATCH)
        return [user.pk for user in users if not self.keep(user)]

    def delete_accounts(self, cutoff: datetime) -> int:
        User = get_user_model()
        deleted = 0
        for chunk in chunks(self.abandoned_pks(cutoff)):
            with transaction.atomic():
                # Checked again under lock: one may have logged in since the selection.
                users = [
                    user
                    for user in abandoned_users(cutoff).filter(pk__in=chunk).select_for_update()
                    if not self.keep(user)
                ]
                if not users:
                    continue
                # Their address rows go with them (CASCADE).
                User._default_manager.filter(pk__in=[user.pk for user in users]).delete()
                for user in users:
                    signals.user_deleted.send(
                        sender=User,
                        request=None,
                        user_id=user.pk,
                        username=display_name(user),
                    )
                deleted += len(users)
        return deleted

    def remove_rows(self, cutoff: datetime) -> int:
        User = get_user_model()
        candidates = list(expired_rows(cutoff).values_list("pk", flat=True))
        removed = 0
        for chunk in chunks(candidates):
            with transaction.atomic():
                rows = list(
                    expired_rows(cutoff)
                    .filter(pk__in=chunk)
                    .select_related("user")
                    .select_for_update(of=("self",))
                )
                if not rows:
                    continue
                copies = [copy.copy(row) for row in rows]  # each with its pk, for receivers
                EmailAddress.objects.filter(pk__in=[row.pk for row in rows]).delete()
                for row in copies:
                    signals.email_removed.send(
                        sender=User, request=None, user=row.user, email_address=row
                    )
                removed += len(rows)
        return removed
