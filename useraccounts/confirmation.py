"""Reading an email confirmation link."""

from __future__ import annotations

from .exceptions import EmailVerificationError
from .models import EmailAddress
from .tokens import TokenState, email_confirmation_token_generator


class ConfirmationMixin:
    """Turns a confirmation token into the ``EmailAddress`` it confirms, or an error."""

    confirmation_token_generator = email_confirmation_token_generator

    def _address_for_token(self, token: str, *, for_update: bool = False) -> EmailAddress:
        address_id = self.confirmation_token_generator.parse_id(token)
        queryset = EmailAddress.objects.select_related("user")
        if for_update:  # two concurrent confirmations: the second sees the first's result
            queryset = queryset.select_for_update(of=("self",))
        address = queryset.filter(pk=address_id).first() if address_id is not None else None
        if address is None:
            raise EmailVerificationError(code="invalid_token")
        state = self.confirmation_token_generator.check_token(address, token)
        if state is TokenState.EXPIRED:
            raise EmailVerificationError(code="expired_token", user=address.user)
        if state is not TokenState.VALID:
            raise EmailVerificationError(code="invalid_token")
        return address
