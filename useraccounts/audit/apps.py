from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """An optional app: add ``useraccounts.audit`` to INSTALLED_APPS and every account
    signal is recorded. It listens to the public signals only, as any app could."""

    name = "useraccounts.audit"
    label = "useraccounts_audit"
    verbose_name = _("Account audit trail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .receivers import connect_all

        connect_all()
