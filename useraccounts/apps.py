from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class UserAccountsConfig(AppConfig):
    """Registers the system checks and the delivery-feedback receiver, and puts the
    default admin site's login behind the app's login limits."""

    name = "useraccounts"
    verbose_name = _("User accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from . import checks  # noqa: F401  (registers the checks)
        from .delivery import handle_tracking_event

        tracking.connect(handle_tracking_event, dispatch_uid="useraccounts.delivery")
        if apps.is_installed("django.contrib.admin"):
            from django.contrib.admin import site

            from .admin_login import limit_login

            limit_login(site)
