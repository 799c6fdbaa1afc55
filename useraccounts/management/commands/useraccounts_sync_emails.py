"""``manage.py useraccounts_sync_emails``: give existing users their address rows."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.core.validators import validate_email

from useraccounts.models import EmailAddress, normalize_email

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Create the missing EmailAddress rows for users that existed before useraccounts "
        "was installed: one primary address each, from the user model's email field. "
        "Safe to run again: users that have a row are left alone. The addresses count as "
        "verified (the site trusted them before) unless --unverified is given. This is a "
        "data import: it sends no signal and no email."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--unverified",
            action="store_true",
            help="create the rows unverified (users must confirm before logging in, in "
            '"mandatory" mode)',
        )

    def handle(self, *args, unverified: bool = False, **options) -> None:
        User = get_user_model()
        email_field = User.get_email_field_name()
        missing = User._default_manager.filter(email_addresses__isnull=True).order_by("pk")
        before = EmailAddress.objects.count()
        candidates = invalid = 0
        batch: list[EmailAddress] = []
        for user in missing.iterator(chunk_size=BATCH):
            email = normalize_email(getattr(user, email_field) or "")
            try:
                validate_email(email)
            except ValidationError:
                invalid += 1
                continue
            candidates += 1
            batch.append(
                EmailAddress(user=user, email=email, primary=True, verified=not unverified)
            )
            if len(batch) >= BATCH:
                self._save(batch)
        self._save(batch)
        created = EmailAddress.objects.count() - before
        self.stdout.write(f"Created {created} address row(s).")
        if invalid:
            self.stdout.write(f"Skipped {invalid} user(s) whose email is empty or not valid.")
        if candidates > created:
            self.stdout.write(
                f"Skipped {candidates - created} user(s) whose address another account already "
                "has (in any letter case); give them another address in the admin."
            )

    def _save(self, batch: list[EmailAddress]) -> None:
        # An address another account has is skipped by the unique constraint.
        EmailAddress.objects.bulk_create(batch, ignore_conflicts=True)
        batch.clear()
