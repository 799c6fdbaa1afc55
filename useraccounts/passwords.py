"""Every password the app stores or checks, and the two operations that set one for a
logged-in user (change, and set where the account has none). Checking costs exactly one
hash, known account or not, through Django's ``check_password``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import (
    get_user_model,
    password_validation,
    update_session_auth_hash,
)
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .emails import MailMixin
from .exceptions import (
    PasswordChangeError,
    PasswordResetError,
)
from .operations import OperationsMixin, PasswordError


class PasswordsMixin(MailMixin, OperationsMixin):
    """Hashing, checking and storing passwords; changing and setting them."""

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
        else:
            # save() would tell the validators (password_changed()) and clear the raw
            # password set_password() keeps on the instance; an UPDATE is no save(), so
            # do both here: the user goes to the receivers of the signals below.
            password_validation.password_changed(password, user)
            user._password = None
        self._password_set(request, user)

    def _password_set(self, request: HttpRequest | None, user: AbstractBaseUser) -> None:
        """The one place ``user_password_set`` is sent: a new hash is saved."""
        self._send(signals.user_password_set, request, user=user)

    @sensitive_variables("password")
    def _check_password(
        self, request: HttpRequest | None, user: AbstractBaseUser, password: str
    ) -> bool:
        """Whether ``password`` is the user's, at the cost of exactly one hash."""

        def upgrade(raw_password: str) -> None:
            # The hasher's settings changed since this hash was made: store a new one.
            with transaction.atomic():
                self._store_password(request, user, raw_password, validate=False)

        try:
            # For an unusable password or a hasher no longer installed, Django's
            # check_password hashes a random string with the default hasher: the same
            # one hash, so the response time says nothing about the account.
            success = check_password(password, user.password, upgrade)
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

    @sensitive_variables("old_password", "new_password")
    def change_password(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        *,
        old_password: str,
        new_password: str,
    ) -> None:
        """Change a logged-in user's password; their other sessions end, this one stays."""
        try:
            ratelimit.consume("change_password", request, user_id=user.pk)
            if not self._check_password(request, user, old_password):
                raise PasswordChangeError(
                    code="incorrect_password",
                    field_errors={
                        "old_password": [PasswordChangeError.messages["incorrect_password"]]
                    },
                )
            with transaction.atomic():
                self._store_password(request, user, new_password)
                self._send(signals.password_changed, request, user=user)
        except Exception as exc:
            raise self._fail(
                request, exc, PasswordChangeError, signals.password_change_failed, user=user
            ) from exc
        self._keep_session(request, user)

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
