"""The email page: adding an address (a link to confirm it), removing one, making a
verified one primary, and sending a new link for one; each refusal is
``email_address_failed`` with its ``action``."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from . import ratelimit, signals
from .conf import app_settings
from .emails import delivery_error_code
from .exceptions import (
    AccountError,
    EmailAddressError,
)
from .models import EmailAddress, normalize_email
from .signup import SignupMixin


def send_failed_code(error: AccountError) -> str:
    """The ``error_type`` of ``email_confirmation_send_failed`` for a refused ``send``."""
    if getattr(error, "reason", None) == "already_verified":
        return "already_verified"
    return "user_not_found" if error.code == "not_found" else error.code


class AddressesMixin(SignupMixin):
    """``add_email``, ``remove_email``, ``set_primary_email`` and a new link for an
    address; an added address is checked by ``clean_email``, as a signup's is."""

    def add_email(
        self, request: HttpRequest | None, user: AbstractBaseUser, email: str
    ) -> EmailAddress:
        """Add an unverified address and email it a confirmation link.

        An address another account has verified is added all the same, so the answer
        and the list look exactly as for a free one; its owner gets a notice instead of
        a link, and it can never be confirmed here.
        """
        email = normalize_email(str(email))
        try:
            try:
                email = self.clean_email(email)
            except ValidationError as exc:
                # A taken address is added all the same (see above); any other refusal,
                # the site's own rules included, is the visitor's to fix.
                refusals = [e for e in exc.error_list if e.code != "unique"]
                if refusals:
                    messages = ValidationError(refusals).messages
                    raise EmailAddressError(
                        code="validation_error", field_errors={"email": messages}
                    ) from exc
            ratelimit.consume("confirm_email", request, key=email, user_id=user.pk)
            with transaction.atomic():
                # The user's row, locked: concurrent adds count one after the other.
                self._locked_user(user, EmailAddressError)
                self._check_can_add(user, email)
                address = EmailAddress.objects.create(user=user, email=email)
                self._send_email_confirmation_or_notice(request, address)
                self._send(signals.email_added, request, user=user, email_address=address)
        except IntegrityError as exc:  # the same address added twice at the same moment
            error = EmailAddressError(reason="already_yours")
            raise self._address_failed(request, error, user, email, "add") from exc
        except Exception as exc:
            raise self._address_failed(request, exc, user, email, "add") from exc
        return address

    def remove_email(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Remove an address: never the primary one, never the last verified one."""
        with self._address_action(request, user, email_address, "remove"):
            address = self._own_address(user, email_address)
            self._check_can_remove(user, address)
            removed = copy.copy(address)  # delete() clears the pk; receivers get it whole
            address.delete()
            self._send(signals.email_removed, request, user=user, email_address=removed)

    def set_primary_email(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Make a verified address the primary one; the user model's email follows."""
        with self._address_action(request, user, email_address, "primary"):
            self._set_primary(request, user, self._own_address(user, email_address))

    def resend_email_confirmation_for(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Send a new link for one of the user's unverified addresses."""
        with self._address_action(request, user, email_address, "send"):
            address = self._own_address(user, email_address)
            if address.verified:
                raise EmailAddressError(reason="already_verified")
            ratelimit.consume("confirm_email", request, key=address.email, user_id=user.pk)
            self._send_email_confirmation_or_notice(request, address)

    @contextmanager
    def _address_action(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
        action: str,
    ) -> Iterator[None]:
        """One action on one of the user's addresses: its writes commit or roll back
        together, and any failure is signalled after the rollback and raised as an
        ``EmailAddressError`` (see :meth:`_address_failed`)."""
        try:
            with transaction.atomic():
                yield
        except Exception as exc:
            raise self._address_failed(request, exc, user, email_address, action) from exc

    def _own_address(
        self, user: AbstractBaseUser, email_address: EmailAddress | str
    ) -> EmailAddress:
        """The user's address (by instance or text), locked; anything else is refused."""
        lookup = (
            {"pk": email_address.pk}
            if isinstance(email_address, EmailAddress)
            else {"email": normalize_email(str(email_address))}
        )
        address = (
            EmailAddress.objects.select_for_update().filter(user_id=user.pk, **lookup).first()
        )
        if address is None:
            raise EmailAddressError(reason="not_yours")
        return address

    def _check_can_add(self, user: AbstractBaseUser, email: str) -> None:
        rows = list(EmailAddress.objects.filter(user_id=user.pk))
        if any(row.email == email for row in rows):
            raise EmailAddressError(reason="already_yours")
        if sum(not row.expired for row in rows) >= app_settings.MAX_EMAIL_ADDRESSES:
            raise EmailAddressError(code="limit_reached")

    def _check_can_remove(self, user: AbstractBaseUser, address: EmailAddress) -> None:
        if address.primary:
            raise EmailAddressError(reason="is_primary")
        others_verified = (
            EmailAddress.objects.filter(user_id=user.pk, verified=True)
            .exclude(pk=address.pk)
            .exists()
        )
        if address.verified and not others_verified:
            raise EmailAddressError(reason="last_verified")

    def _set_primary(
        self, request: HttpRequest | None, user: AbstractBaseUser, address: EmailAddress
    ) -> None:
        if not address.verified:
            raise EmailAddressError(code="not_verified")
        if address.primary:
            return
        previous = (
            EmailAddress.objects.select_for_update().filter(user_id=user.pk, primary=True).first()
        )
        if previous is not None:  # one primary per user: the constraint checks each save
            previous.primary = False
            previous.save(update_fields=["primary"])
        address.primary = True
        address.save(update_fields=["primary"])
        setattr(user, user.get_email_field_name(), address.email)
        user.save(update_fields=[user.get_email_field_name()])
        self._send(
            signals.email_changed,
            request,
            user=user,
            from_email_address=previous,
            to_email_address=address,
        )

    def _address_failed(
        self,
        request: HttpRequest | None,
        exc: Exception,
        user: AbstractBaseUser,
        email: EmailAddress | str,
        action: str,
    ) -> AccountError:
        """Send ``email_address_failed`` (and, for ``send``, ``email_confirmation_send_failed``)
        after the rollback; return the error the caller raises."""
        error = self._fail(request, exc, EmailAddressError, None)
        error.code = delivery_error_code(exc, error)
        self._send_robust(
            signals.email_address_failed,
            request,
            user=user,
            email=str(email),
            action=action,
            error_type=error.code,
            exception=exc,
        )
        if action == "send":
            self._send_robust(
                signals.email_confirmation_send_failed,
                request,
                email=str(email),
                user=user,
                error_type=send_failed_code(error),
                exception=exc,
            )
        return error
