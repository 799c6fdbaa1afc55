"""``manage.py useraccounts_prune_audit --days N``: delete audit rows older than N days."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from useraccounts.audit.models import AuditEvent


class Command(BaseCommand):
    help = "Delete audit events older than --days days (run it daily, e.g. from cron)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="how many days to keep")

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _by_model = AuditEvent.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} audit event(s) older than {days} day(s).")
