"""Passwords: hashing and checking them (one hash per attempt), and the steps of
resetting one by an emailed link."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import check_password, identify_hasher, is_password_usable
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .authentication import login_limit_key
from .conf import app_settings
from .confirmation import ConfirmationMixin
from .emails import MailMixin
from .exceptions import (
    AccountError,
    EmailVerificationError,
    PasswordChangeError,
    PasswordResetError,
)
from .models import EmailAddress, newest_waiting, one_or_none
from .operations import OperationsMixin, PasswordError
from .tokens import TOKEN_PREFIX_LENGTH, TokenState, password_reset_token_generator


class PasswordsMixin(MailMixin, ConfirmationMixin, OperationsMixin):
    """Every password this app stores or checks goes through here."""

    reset_token_generator = password_reset_token_generator

    def validate_password(self, password: str, user: AbstractBaseUser | None = None) -> None:
        """Apply ``AUTH_PASSWORD_VALIDATORS``; raise ``ValidationError`` to refuse."""
        password_validation.validate_password(password, user)

    @sensitive_variables("password")
    def _hash_password(self, user: AbstractBaseUser, password: str) -> None:
        """Hash into ``user.password`` (unsaved); a hasher failure becomes a PasswordError."""
        try:
            user.set_password(password)
        except Exception as exc:
            raise PasswordError(signals.user_password_set_failed, user, exc) from exc

    @sensitive_variables("password")
    def _store_password(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        password: str,
        *,
        only_if: dict[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        """Validate, hash and save a new password for an existing user.

        With ``only_if`` (lookups from the reset token generator), the row is updated only
        while it still matches them: one conditional UPDATE, so a reset link posted twice
        at once resets once, on every database, with no row lock or transaction needed.
        ``validate=False`` stores again a password that is already the user's.
        """
        if validate:
            try:
                self.validate_password(password, user)
            except ValidationError as exc:
                raise ValidationError({"password": exc.messages}) from exc
        self._hash_password(user, password)
        if only_if is None:
            user.save(update_fields=["password"])
        elif not type(user)._base_manager.filter(**only_if).update(password=user.password):
            raise PasswordResetError(code="invalid_token")
        self._send(signals.user_password_set, request, user=user)

    @sensitive_variables("password")
    def _check_password(
        self, request: HttpRequest | None, user: AbstractBaseUser, password: str
    ) -> bool:
        """Whether ``password`` is the user's, at the cost of exactly one hash."""

        def upgrade(raw_password: str) -> None:
            # The hasher's settings changed since this hash was made: store a new one.
            with transaction.atomic():
                self._hash_password(user, raw_password)
                user.save(update_fields=["password"])
                self._send(signals.user_password_set, request, user=user)

        try:
            if is_password_usable(user.password) and _hasher_known(user.password):
                success = check_password(password, user.password, upgrade)
            else:
                # Django answers False for these without hashing; hash anyway so the
                # response time says nothing about the account.
                self._dummy_hash(password)
                success = False
        except PasswordError:
            raise
        except Exception as exc:
            raise PasswordError(signals.user_password_check_failed, user, exc) from exc
        self._send(signals.user_password_checked, request, user=user, success=success)
        return success

    @sensitive_variables("password")
    def _dummy_hash(self, password: str) -> None:
        # An unknown login costs the same one hash as a known one, so the response time
        # does not tell who has an account (as Django's ModelBackend does).
        get_user_model()().set_password(password)

    def _keep_session(self, request: HttpRequest | None, user: AbstractBaseUser) -> None:
        # The session hash follows the password: every other session of the user is
        # now logged out; this one is updated so that it stays.
        if request is not None and getattr(request, "user", None) == user:
            update_session_auth_hash(request, user)

    # --- reset links ------------------------------------------------------------------

    def send_password_reset(
        self, request: HttpRequest | None, user: AbstractBaseUser, address: EmailAddress | None
    ) -> None:
        """Email ``user`` a reset link; raises ``EmailSendError``."""
        self.check_deliverable(address)
        to = address.email if address else getattr(user, user.get_email_field_name())
        context = {
            "user": user,
            "reset_url": self.build_absolute_url(request, self.reset_link_path(user, address)),
            "expire_hours": max(1, app_settings.PASSWORD_RESET_TIMEOUT_SECONDS // 3600),
        }
        self.send_mail(request, kind="password_reset", to=to, context=context, user=user)

    def find_reset_recipient(
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
            user = self.find_legacy_user(email)
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
        # The id of an address the link will verify; 0 (nothing to do) once it is verified.
        address_id = address.pk if address is not None and not address.verified else 0
        token = self.reset_token_generator.make_token(user, address_id)
        uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
        return reverse("useraccounts:password_reset_confirm", args=[uidb64, token])

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

    def check_password_reset_link(
        self, request: HttpRequest | None, *, uidb64: str, token: str
    ) -> AbstractBaseUser:
        """The user a reset link is for, changing nothing (for GET)."""
        try:
            return self._user_for_reset(uidb64, token)[0]
        except Exception as exc:
            raise self._reset_failed(request, exc, token, None) from exc

    def reset_password_from_form(
        self, request: HttpRequest | None, *, uidb64: str, token: str, form: Any
    ) -> AbstractBaseUser:
        """Reset from a bound new-password form: its input errors are a failed reset too."""
        return self._reset_password(
            request,
            uidb64,
            token,
            lambda: self._valid_form(form, PasswordResetError)["new_password1"],
        )

    def _reset_password(self, request, uidb64, token, new_password) -> AbstractBaseUser:
        user = None
        try:
            self._send(
                signals.password_reset_started, request, token_prefix=token[:TOKEN_PREFIX_LENGTH]
            )
            user, address_id = self._user_for_reset(uidb64, token)
            unchanged = self.reset_token_generator.unchanged(user)
            # One write (the password) needs no transaction; the address the link
            # verifies, or receivers' writes, must commit or roll back with it.
            writes = signals.user_password_set, signals.password_reset
            with transaction.atomic() if address_id else self._transaction_for(*writes):
                self._store_password(request, user, new_password(), only_if=unchanged)
                self._verify_reset_address(request, user, address_id)
                self._send(signals.password_reset, request, user=user)
        except Exception as exc:
            raise self._reset_failed(request, exc, token, user) from exc
        # The owner proved the mailbox and chose a new password: whatever a stranger
        # spent of the account's login allowance is forgiven (never the per-IP counts).
        ratelimit.clear("login_failed", key=login_limit_key("", user))
        return user

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

    def set_password(
        self, request: HttpRequest | None, user: AbstractBaseUser, *, new_password: str
    ) -> None:
        """Give a password to an account that has none (e.g. one made in the admin)."""
        try:
            if user.has_usable_password():
                raise PasswordChangeError(
                    PasswordChangeError.messages["password_exists"], code="validation_error"
                )
            with transaction.atomic():
                self._store_password(request, user, new_password)
                self._send(signals.password_set, request, user=user)
        except Exception as exc:
            raise self._fail(
                request, exc, PasswordChangeError, signals.password_change_failed, user=user
            ) from exc
        self._keep_session(request, user)


def _hasher_known(encoded: str) -> bool:
    try:
        identify_hasher(encoded)
    except ValueError:
        return False
    return True
