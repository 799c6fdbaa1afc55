"""The one model of the app: the email addresses of an account and their state.

Ownership rule: only a verified address belongs to an account. Several accounts may hold
the same address unverified (an unverified address proves nothing, so it reserves
nothing); the database lets an address be verified on one account at most. See
``docs/security.rst``, "Who owns an address".
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailAddressQuerySet(models.QuerySet):
    """The lookups the app makes, each one indexed query."""

    def for_email(self, email: str) -> list[EmailAddress]:
        """Every row of ``email`` (normalized here), with its user: one indexed query."""
        return list(self.filter(email=normalize_email(email)).select_related("user"))

    def for_email_with_accounts(self, email: str) -> list[EmailAddress]:
        """Every row of ``email`` (normalized by the caller), and every other row of the
        accounts holding it, with their users: one query (a join, each part through an
        index). A login finds its account and that account's addresses at once."""
        return list(self.filter(user__email_addresses__email=email).select_related("user"))


def newest_waiting(rows: list[EmailAddress]) -> EmailAddress | None:
    """Of an address's rows, the newest signup still waiting for it: a primary row,
    unverified and inside the confirmation window (an expired one counts for nothing)."""
    waiting = [row for row in rows if row.primary and not row.expired]
    return max(waiting, key=lambda row: row.created_at, default=None)


def confirmation_cutoff() -> datetime:
    """Unverified rows created before this moment have expired."""
    from .conf import app_settings

    return timezone.now() - timedelta(seconds=app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS)


def one_or_none(queryset: models.QuerySet) -> Any:
    """The row of a lookup by a unique key, or None: ``first()`` without its ORDER BY."""
    return next(iter(queryset[:1]), None)


def normalize_email(email: str) -> str:
    """The stored form of an address, so that spellings that reach one mailbox are one row.

    Unicode NFKC (a fullwidth ``e``, U+FF45, is ``e``), lowercased, and the domain IDNA-encoded
    the way the mail system delivers it (``exämple.com`` is ``xn--exmple-cua.com``,
    ``straße.de`` is ``strasse.de``), as Django's own email validator and mail code
    encode it. Input that is not an address comes back stripped and lowercased, for the
    validator to refuse.
    """
    email = unicodedata.normalize("NFKC", str(email)).strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not domain:
        return email
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return email  # not a valid domain: the validator says so
    return f"{local}@{domain}"


class EmailAddress(models.Model):
    """An address of an account.

    One row per (account, address). An address is verified on at most one account and a
    user has at most one primary address; the database enforces all three, so concurrent
    requests cannot break them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="email_addresses",
        verbose_name=_("user"),
    )
    email = models.EmailField(_("email address"), max_length=254, db_index=True)
    verified = models.BooleanField(_("verified"), default=False)
    primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    #: The provider reported a bounce, complaint or rejection: the app sends no more mail
    #: here until staff clear it.
    undeliverable = models.BooleanField(_("undeliverable"), default=False)
    undeliverable_reason = models.CharField(_("undeliverable because"), max_length=32, blank=True)

    objects = EmailAddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(primary=True),
                name="useraccounts_one_primary_per_user",
            ),
            models.UniqueConstraint(
                fields=["user", "email"],
                name="useraccounts_one_row_per_user_and_address",
                violation_error_message=_("This address is already on this account."),
            ),
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(verified=True),
                name="useraccounts_one_verified_holder",
                violation_error_message=_("This address is verified on another account."),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def expired(self) -> bool:
        """Unverified and older than the confirmation window: it blocks nothing."""
        return not self.verified and self.created_at < confirmation_cutoff()
