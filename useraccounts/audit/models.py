"""One row per account event: what happened, to whom, from where, and how it ended."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """A signal of ``useraccounts.signals`` as it was sent (never a password or token)."""

    class Outcome(models.TextChoices):
        STARTED = "started", _("started")
        SUCCESS = "success", _("success")
        FAILURE = "failure", _("failure")

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    event = models.CharField(_("event"), max_length=64, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    #: Who it was, in words: kept when the user is deleted.
    user_repr = models.CharField(_("user as it was"), max_length=254, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    #: The signal's other kwargs, made plain: codes, prefixes, names, never secrets.
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.event} ({self.outcome})"
