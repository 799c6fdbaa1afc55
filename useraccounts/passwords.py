"""Hashing and checking passwords, with their signals, at one hash per attempt."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import check_password, identify_hasher, is_password_usable
from django.db import transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from . import signals
from .operations import OperationsMixin, PasswordError


class PasswordsMixin(OperationsMixin):
    """Every password this app stores or checks goes through here."""

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


def _hasher_known(encoded: str) -> bool:
    try:
        identify_hasher(encoded)
    except ValueError:
        return False
    return True
