"""``manage.py useraccounts_verify_email ADDRESS``: confirm an address for its owner."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from useraccounts.exceptions import EmailVerificationError
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress, normalize_email
from useraccounts.users import display_name


class Command(BaseCommand):
    help = (
        "Mark an email address verified, as if its owner had followed the confirmation "
        "link (sends email_confirmed with request=None). Other accounts' unverified rows "
        "for the address are removed. Where several accounts wait for the address, name "
        "the one with --user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the address to mark verified")
        parser.add_argument(
            "--user", help="the username (or email login) of the account to verify it for"
        )

    def handle(self, *args: Any, email: str, user: str | None = None, **options: Any) -> None:
        normalized = normalize_email(email)
        rows = EmailAddress.objects.for_email(normalized)
        if not rows:
            raise CommandError(
                f"No account has the address {normalized}. Check the spelling; for "
                "accounts made before useraccounts was installed, run "
                "useraccounts_sync_emails first."
            )
        verified = [row for row in rows if row.verified]
        candidates = verified or [
            row for row in rows if user is None or display_name(row.user) == user
        ]
        if len(candidates) != 1:
            names = ", ".join(sorted(display_name(row.user) for row in rows))
            raise CommandError(
                f"Several accounts wait for {normalized} ({names}): name one with --user."
                if not user
                else f"None of the accounts that wait for {normalized} is {user!r}: {names}."
            )
        address = candidates[0]
        try:
            with transaction.atomic():
                changed = get_account_manager().mark_email_verified(None, address)
        except EmailVerificationError as exc:
            raise CommandError(str(exc.message)) from exc
        state = "is now verified" if changed else "was already verified"
        self.stdout.write(f"{normalized} ({address.user}) {state}.")
