"""Password reset by emailed link: asking for the link (the same answer for every
address), checking it, and setting the new password through it."""

from __future__ import annotations

from django.contrib.auth import (
    get_user_model,
)
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import (
    urlsafe_base64_decode,
    urlsafe_base64_encode,
)
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .conf import app_settings
from .exceptions import (
    AccountError,
    EmailVerificationError,
    PasswordResetError,
    PasswordResetRequestError,
)
from .login import LoginMixin, login_limit_key
from .models import EmailAddress, newest_waiting, normalize_email, one_or_none
from .tokens import (
    TOKEN_PREFIX_LENGTH,
    TokenState,
    password_reset_token_generator,
)


class PasswordResetMixin(LoginMixin):
    """``request_password_reset`` and ``reset_password``, and their steps."""

    reset_token_generator = password_reset_token_generator

    def request_password_reset(
        self, request: HttpRequest | None, *, email: str, rate_limit: bool = True
    ) -> None:
        """Email a reset link to the account that has ``email``, if there is one.

        Raises on every failure (``user_not_found`` included) so code knows what
        happened; the view shows the same page for all of them but a rate limit.
        ``rate_limit=False`` is for staff acting on many users (the admin action).
        """
        try:
            self._send(signals.password_reset_request_started, request, email=email)
            normalized = normalize_email(str(email))
            if rate_limit:
                ratelimit.consume("reset_password", request, key=normalized)
            with self._transaction_for(signals.password_reset_request_processed):
                found = self._find_reset_recipient(request, normalized)
                if found is None:
                    self.send_no_account_note(request, normalized, "reset")
                    raise PasswordResetRequestError(code="user_not_found")
                user, address = found
                self.send_password_reset(request, user, address)
                self._send(
                    signals.password_reset_request_processed, request, email=email, user=user
                )
        except Exception as exc:
            raise self._fail(
                request,
                exc,
                PasswordResetRequestError,
                signals.password_reset_request_failed,
                email=email,
            ) from exc

    def send_password_reset(
        self, request: HttpRequest | None, user: AbstractBaseUser, address: EmailAddress | None
    ) -> None:
        """Email ``user`` a reset link; raises ``EmailSendError``."""
        self._check_deliverable(address)
        to = address.email if address else getattr(user, user.get_email_field_name())
        uidb64, token = self._reset_link_parts(user, address)
        path = reverse("useraccounts:password_reset_confirm", args=[uidb64, token])
        link = self.email_link(request, "password_reset_confirm", path, uidb64=uidb64, token=token)
        context = {
            "user": user,
            "reset_url": link,
            "expire_hours": max(1, app_settings.PASSWORD_RESET_TIMEOUT_SECONDS // 3600),
        }
        self.send_mail(request, kind="password_reset", to=to, context=context, user=user)

    def _find_reset_recipient(
        self, request: HttpRequest | None, email: str
    ) -> tuple[AbstractBaseUser, EmailAddress] | None:
        """The active user a reset link for ``email`` goes to, and the address record.

        A link goes to the account on which the address is verified; or to a signup that
        still waits for it (an account whose only address it is, that has never logged
        in), where following the link proves the mailbox and its holder then sets the
        password; or to a user the app has no address rows for, whose own email field it
        is (the row is made then, see :meth:`adopt_legacy_address`). Never through an
        address that someone else could have added to their account.
        """
        rows = EmailAddress.objects.for_email(email)
        address = next((row for row in rows if row.verified), None)
        if address is None:
            user = self._find_legacy_user(email)
            if user is not None and user.is_active:
                address = self.adopt_legacy_address(request, user)
        if address is None:
            address = newest_waiting([row for row in rows if row.user.last_login is None])
            if (
                address is not None
                and (
                    EmailAddress.objects.filter(user_id=address.user_id).exclude(pk=address.pk)
                ).exists()
            ):
                address = None
        if address is None or not address.user.is_active:
            return None
        return address.user, address

    def reset_link_path(self, user: AbstractBaseUser, address: EmailAddress | None) -> str:
        """The path of a new reset link on the app's own page (whatever
        ``USERACCOUNTS_FRONTEND_URLS`` says: emails use :meth:`email_link`)."""
        uidb64, token = self._reset_link_parts(user, address)
        return reverse("useraccounts:password_reset_confirm", args=[uidb64, token])

    def _reset_link_parts(
        self, user: AbstractBaseUser, address: EmailAddress | None
    ) -> tuple[str, str]:
        """``uidb64`` and ``token`` of a new reset link."""
        # The id of an address the link will verify; 0 (nothing to do) once it is verified.
        address_id = address.pk if address is not None and not address.verified else 0
        token = self.reset_token_generator.make_token(user, address_id)
        return urlsafe_base64_encode(force_bytes(user.pk)), token

    def check_password_reset_link(
        self, request: HttpRequest | None, *, uidb64: str, token: str
    ) -> AbstractBaseUser:
        """The user a reset link is for, changing nothing (for GET)."""
        try:
            return self._user_for_reset(uidb64, token)[0]
        except Exception as exc:
            raise self._reset_failed(request, exc, token, None) from exc

    @sensitive_variables("new_password")
    def reset_password(
        self,
        request: HttpRequest | None,
        *,
        uidb64: str,
        token: str,
        new_password: str,
        input_errors: dict[str, list[str]] | None = None,
    ) -> AbstractBaseUser:
        """Set a new password through a reset link; the link then stops working, and
        whatever a stranger spent of the account's login allowance is forgiven.

        The link is checked first: a bad link is ``invalid_token`` whatever was typed.
        ``input_errors`` are what the caller's own input validation refused (a form's
        errors, keyed ``password`` or ``None``): a good link then fails as
        ``validation_error`` with them.
        """
        user = None
        try:
            self._send(
                signals.password_reset_started, request, token_prefix=token[:TOKEN_PREFIX_LENGTH]
            )
            user, address_id = self._user_for_reset(uidb64, token)
            if input_errors:
                raise PasswordResetError(code="validation_error", field_errors=input_errors)
            unchanged = self.reset_token_generator.unchanged(user)
            # One write (the password) needs no transaction; the address the link
            # verifies, or receivers' writes, must commit or roll back with it.
            writes = signals.user_password_set, signals.password_reset
            with transaction.atomic() if address_id else self._transaction_for(*writes):
                self._store_password(request, user, new_password, only_if=unchanged)
                self._verify_reset_address(request, user, address_id)
                self._send(signals.password_reset, request, user=user)
        except Exception as exc:
            raise self._reset_failed(request, exc, token, user) from exc
        # The owner proved the mailbox and chose a new password: whatever a stranger
        # spent of the account's login allowance is forgiven (never the per-IP counts).
        ratelimit.clear("login_failed", key=login_limit_key("", user))
        return user

    def _user_for_reset(self, uidb64: str, token: str) -> tuple[AbstractBaseUser, int]:
        """The user a reset link is for and the id of the address it was sent to."""
        User = get_user_model()
        try:
            pk = User._meta.pk.to_python(force_str(urlsafe_base64_decode(uidb64)))
            user = one_or_none(User._default_manager.filter(pk=pk))
        except (TypeError, ValueError, OverflowError, ValidationError, UnicodeDecodeError):
            user = None
        state = self.reset_token_generator.check_token(user, token) if user else TokenState.INVALID
        if state is TokenState.EXPIRED:
            raise PasswordResetError(code="expired_token", user=user)
        if state is not TokenState.VALID:
            raise PasswordResetError(code="invalid_token")
        return user, self.reset_token_generator.parse_id(token)

    def _verify_reset_address(
        self, request: HttpRequest | None, user: AbstractBaseUser, address_id: int
    ) -> None:
        """Following the link proved the user reads the address it was sent to."""
        if not address_id:
            return
        address = one_or_none(
            EmailAddress.objects.filter(pk=address_id, user=user, verified=False)
        )
        if address is not None:
            address.user = user
            try:  # a savepoint: losing a race for the address must not undo the reset
                with transaction.atomic():
                    self.mark_email_verified(request, address)
            except EmailVerificationError:
                pass  # verified on another account meanwhile: the password is still set

    def _reset_failed(self, request, exc, token, user) -> AccountError:
        if user is None and isinstance(exc, PasswordResetError):
            user = exc.user
        return self._fail(
            request,
            exc,
            PasswordResetError,
            signals.password_reset_failed,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            user=user,
        )
