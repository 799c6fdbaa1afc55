"""``manage.py useraccounts_verify_email ADDRESS``: confirm an address for its owner."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress, normalize_email


class Command(BaseCommand):
    help = (
        "Mark an email address verified, as if its owner had followed the confirmation "
        "link (sends email_confirmed with request=None)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="the address to mark verified")

    def handle(self, *args, email: str, **options) -> None:
        normalized = normalize_email(email)
        with transaction.atomic():
            address = (
                EmailAddress.objects.select_for_update()
                .select_related("user")
                .filter(email=normalized)
                .first()
            )
            if address is None:
                raise CommandError(
                    f"No account has the address {normalized}. Check the spelling; for "
                    "accounts made before useraccounts was installed, run "
                    "useraccounts_sync_emails first."
                )
            changed = get_account_manager().mark_email_verified(None, address)
        state = "is now verified" if changed else "was already verified"
        self.stdout.write(f"{normalized} ({address.user}) {state}.")
