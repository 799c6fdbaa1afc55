"""Reading an email confirmation link."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import ratelimit, signals
from .exceptions import AccountError, EmailVerificationError
from .models import EmailAddress, normalize_email, one_or_none
from .operations import OperationsMixin
from .tokens import TOKEN_PREFIX_LENGTH, TokenState, email_confirmation_token_generator


class ConfirmationMixin(OperationsMixin):
    """Turns a confirmation token into the ``EmailAddress`` it confirms, or an error."""

    confirmation_token_generator = email_confirmation_token_generator

    def _address_for_token(self, token: str, *, for_update: bool = False) -> EmailAddress:
        address_id = self.confirmation_token_generator.parse_id(token)
        queryset = EmailAddress.objects.select_related("user")
        if for_update:  # two concurrent confirmations: the second sees the first's result
            queryset = queryset.select_for_update(of=("self",))
        address = one_or_none(queryset.filter(pk=address_id)) if address_id is not None else None
        if address is None:
            raise EmailVerificationError(code="invalid_token")
        state = self.confirmation_token_generator.check_token(address, token)
        if state is TokenState.EXPIRED:
            raise EmailVerificationError(code="expired_token", user=address.user)
        if state is not TokenState.VALID:
            raise EmailVerificationError(code="invalid_token")
        return address

    def mark_email_verified(
        self, request: HttpRequest | None, email_address: EmailAddress
    ) -> bool:
        """Mark an address verified and send ``email_confirmed``; False if it already was.

        Call it inside the caller's transaction: the signal's receivers share it.
        """
        if email_address.verified:
            return False
        email_address.verified, email_address.verified_at = True, timezone.now()
        email_address.save(update_fields=["verified", "verified_at"])
        self._send(
            signals.email_confirmed, request, user=email_address.user, email_address=email_address
        )
        return True

    def check_email_confirmation(self, request: HttpRequest | None, token: str) -> EmailAddress:
        """The address a confirmation token is for, changing nothing (for GET)."""
        try:
            return self._address_for_token(token)
        except Exception as exc:
            raise self._verification_failed(request, exc, token) from exc

    def resend_email_confirmation(self, request: HttpRequest | None, *, email: str) -> None:
        """Send a fresh link if ``email`` is an unverified address; else do nothing.

        The caller shows the same page either way, so the answer does not tell whether
        the address has an account; for the same reason a send failure is logged (by the
        send path), not raised.
        """
        email = normalize_email(str(email))
        ratelimit.consume("confirm_email", request, key=email)
        address = (
            EmailAddress.objects.select_related("user").filter(email=email, verified=False).first()
        )
        if address is None:
            return
        try:
            with transaction.atomic():
                self.send_email_confirmation(request, address)
        except AccountError:
            pass

    def _verification_failed(self, request, exc: Exception, token: str) -> AccountError:
        return self._fail(
            request,
            exc,
            EmailVerificationError,
            signals.user_email_verification_failed,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            user=exc.user if isinstance(exc, EmailVerificationError) else None,
        )
