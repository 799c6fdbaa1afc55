from typing import Any

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


def tracking_received(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Receiver of django-anymail's ``tracking`` signal: a bounce, complaint or rejection
    goes to the manager (:mod:`useraccounts.bounces`); other events are not the app's."""
    from .bounces import UNDELIVERABLE_EVENTS
    from .manager import get_account_manager

    if event.event_type in UNDELIVERABLE_EVENTS and event.recipient:
        get_account_manager().mark_undeliverable(
            None, email=event.recipient, event_type=event.event_type
        )


class UserAccountsConfig(AppConfig):
    """Registers the system checks and the delivery-feedback receiver, and puts the
    default admin site's login behind the app's login limits."""

    name = "useraccounts"
    verbose_name = _("User accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from . import checks  # noqa: F401  (registers the checks)

        tracking.connect(tracking_received, dispatch_uid="useraccounts.bounces")
        if apps.is_installed("django.contrib.admin"):
            from django.contrib.admin import site

            from .admin_login import limit_login

            limit_login(site)
