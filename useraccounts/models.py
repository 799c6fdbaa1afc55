"""The one model of the app: the email addresses of an account and their state."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EmailAddressQuerySet(models.QuerySet):
    """The lookups the app makes, each one indexed query."""

    def login_address(self, email: str) -> EmailAddress | None:
        """The address one may log in with (verified, or the primary), with its user.

        Addresses are unique, so this fetches the one row by its index and decides in
        Python: cheaper for Django to build than the same condition as an OR in SQL.
        """
        address = one_or_none(self.filter(email=normalize_email(email)).select_related("user"))
        return address if address is not None and (address.verified or address.primary) else None


def one_or_none(queryset: models.QuerySet) -> Any:
    """The row of a lookup by a unique key, or None: ``first()`` without its ORDER BY."""
    return next(iter(queryset[:1]), None)


def normalize_email(email: str) -> str:
    """The stored form of an address: stripped and lowercased, so lookups are exact."""
    return email.strip().lower()


class EmailAddress(models.Model):
    """An address of an account.

    An address belongs to one account only and a user has at most one primary address;
    the database enforces both, so concurrent requests cannot break them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="email_addresses",
        verbose_name=_("user"),
    )
    email = models.EmailField(_("email address"), max_length=254, unique=True)
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
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)
