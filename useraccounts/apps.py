from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UserAccountsConfig(AppConfig):
    """Registers the system checks; nothing else runs at start-up."""

    name = "useraccounts"
    verbose_name = _("User accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from . import checks  # noqa: F401  (registers the checks)
        from .delivery import handle_tracking_event

        tracking.connect(handle_tracking_event, dispatch_uid="useraccounts.delivery")
