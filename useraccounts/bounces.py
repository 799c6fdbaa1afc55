"""Delivery feedback from the email provider, through django-anymail's ``tracking``
signal: a bounce, complaint or rejection marks the address undeliverable, the app
stops sending to it, and ``email_bounced`` is sent.

Only the project's anymail webhook URLs are needed (``include("anymail.urls")``, with
``ANYMAIL["WEBHOOK_SECRET"]``); the receiver is connected when the app loads.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from . import signals
from .models import EmailAddress, normalize_email, one_or_none
from .operations import OperationsMixin

#: anymail's normalized event types that mean "do not send here again".
UNDELIVERABLE_EVENTS = frozenset({"bounced", "complained", "rejected"})


class BouncesMixin(OperationsMixin):
    """What the manager does with the provider's reports."""

    def mark_undeliverable(
        self, request: HttpRequest | None, *, email: str, event_type: str
    ) -> EmailAddress | None:
        """Mark ``email`` undeliverable after a bounce, complaint or rejection and send
        ``email_bounced``; None when no account has the address."""
        with transaction.atomic():
            address = one_or_none(
                EmailAddress.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(email=normalize_email(email))
            )
            if address is None:
                return None
            address.undeliverable, address.undeliverable_reason = True, event_type
            address.save(update_fields=["undeliverable", "undeliverable_reason"])
            self._send(
                signals.email_bounced,
                request,
                user=address.user,
                email_address=address,
                event_type=event_type,
            )
        return address
