"""The one path every email of the app takes.

Messages go through Django's email API, so any backend works. Each carries anymail's
``tags`` and ``metadata`` attributes (ignored by other backends), a text body and an HTML
alternative rendered from overridable templates under ``templates/useraccounts/email/``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from .conf import app_settings
from .exceptions import AccountError, EmailSendError, UndeliverableAddress

logger = logging.getLogger("useraccounts")


def render_message(
    kind: str, context: dict[str, Any], request: HttpRequest | None
) -> tuple[str, str, str]:
    """Subject (one line), text body and HTML body of the ``kind`` message."""
    base = f"useraccounts/email/{kind}"
    subject = render_to_string(f"{base}_subject.txt", context, request=request)
    subject = " ".join(subject.split())  # a header must be one line
    text = render_to_string(f"{base}_message.txt", context, request=request)
    html = render_to_string(f"{base}_message.html", context, request=request)
    return subject, text, html


def send_templated_mail(
    request: HttpRequest | None,
    *,
    kind: str,
    to: str,
    context: dict[str, Any],
    user: Any = None,
) -> None:
    """Render and send one message; raise ``EmailSendError`` if the backend fails.

    The backend's error is logged with its traceback, the message kind and the
    recipient masked (``j***@example.com``): the context (which holds the link and its
    token) never reaches the log.
    """
    subject, text, html = render_message(kind, context, request)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.tags = ["useraccounts", kind]
    message.metadata = {"user_id": str(user.pk) if user is not None else None}
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        masked = mask_email(to)
        fix = (  # AnymailConfigurationError is one too
            " Fix the EMAIL_BACKEND / ANYMAIL settings."
            if isinstance(exc, ImproperlyConfigured)
            else ""
        )
        logger.exception(
            "Could not send the %s email to %s: %s: %s%s",
            kind,
            masked,
            type(exc).__name__,
            str(exc).replace(to, masked),
            fix,
        )
        raise EmailSendError() from exc


def mask_email(email: str) -> str:
    """An address as logs may show it: ``j***@example.com``."""
    local, at, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def delivery_error_code(exc: Exception, error: AccountError) -> str:
    """The code of a failed confirmation send: ``undeliverable`` for an address the
    provider reported (the signals about confirmation links name it apart), else the
    error's own."""
    return "undeliverable" if isinstance(exc, UndeliverableAddress) else error.code


class MailMixin:
    """How the account manager sends mail: override ``send_mail`` to queue it, say."""

    def _check_deliverable(self, email_address: Any) -> None:
        """Refuse to send to an address the email provider reported as undeliverable
        (see :mod:`useraccounts.bounces`): mail to it would only bounce again."""
        if email_address is not None and email_address.undeliverable:
            logger.info(
                "Not sending to %s: it is marked undeliverable", mask_email(email_address.email)
            )
            raise UndeliverableAddress()

    def build_absolute_url(self, request: HttpRequest | None, path: str) -> str:
        """An absolute link: ``USERACCOUNTS_SITE_URL`` + ``path`` whenever it is set.

        The request's host comes from the Host header, which the client chooses: with a
        permissive ``ALLOWED_HOSTS`` an attacker who asks for a reset link for someone
        else's address would get it emailed pointing at their own server. So the request
        is used only when no site URL is configured.
        """
        if app_settings.SITE_URL:
            return app_settings.SITE_URL + path
        if request is None:
            raise ImproperlyConfigured(
                "USERACCOUNTS_SITE_URL is not set, and an email was sent outside a request "
                "(from code, the admin or a command). Set it to your site's address, e.g. "
                '"https://example.com".'
            )
        return request.build_absolute_uri(path)

    def send_mail(
        self,
        request: HttpRequest | None,
        *,
        kind: str,
        to: str,
        context: dict[str, Any],
        user: Any = None,
    ) -> None:
        """Send one message of the app; override to queue mail or add to the context."""
        # A name, not a URL: the email's one link is the one it is about. Taken from
        # USERACCOUNTS_SITE_URL whenever it is set, as the links are: the Host header is
        # the client's to choose.
        if app_settings.SITE_URL:
            site = urlsplit(app_settings.SITE_URL).netloc
        else:
            site = request.get_host() if request is not None else ""
        context.setdefault("site_name", site)
        send_templated_mail(request, kind=kind, to=to, context=context, user=user)

    def send_no_account_note(self, request: HttpRequest | None, email: str, reason: str) -> None:
        """Answer a reset (``reason="reset"``) or a request for a new confirmation link
        (``"resend"``, or ``"confirmed"`` when the address is already confirmed) that no
        link can answer with a short note to the address, so that known and unknown
        addresses cost the same one mail (``USERACCOUNTS_NOTIFY_UNKNOWN_ADDRESSES``).
        The caller's rate limit per address bounds how many a stranger can trigger; a
        failed send is logged by the send path and otherwise ignored, like the request."""
        if not app_settings.NOTIFY_UNKNOWN_ADDRESSES:
            return
        name = "useraccounts:login" if reason == "confirmed" else "useraccounts:signup"
        context = {
            "email": email,
            "reason": reason,
            "url": self.build_absolute_url(request, reverse(name)),
        }
        with contextlib.suppress(EmailSendError):
            self.send_mail(request, kind="no_account", to=email, context=context)
