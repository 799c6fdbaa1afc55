"""Signed, expiring, single-use tokens for links sent by email.

A token is ``<id>-<timestamp>-<hmac>``: the id of the row it acts on (so checking it is
one indexed lookup), when it was made, and an HMAC over both and the state of the object
it acts on. Using the link changes that state, so a used token no longer matches and
nothing needs to be stored. The signature is checked before the age: a token is called
expired only when it is genuine.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

from .conf import app_settings

#: Signals and logs carry this many characters of a token, never more.
TOKEN_PREFIX_LENGTH = 10

#: No genuine token is longer; anything longer is refused before any work.
MAX_TOKEN_LENGTH = 100


class TokenState(enum.Enum):
    VALID = "valid"
    INVALID = "invalid_token"
    EXPIRED = "expired_token"


class TimestampTokenGenerator:
    """Makes and checks tokens; subclasses say what they sign and for how long."""

    key_salt = "useraccounts.tokens.TimestampTokenGenerator"
    algorithm = "sha256"

    def timeout(self) -> int:
        raise NotImplementedError

    def state(self, obj: Any) -> str:
        """Everything about ``obj`` whose change must invalidate its tokens."""
        raise NotImplementedError

    def make_token(self, obj: Any, object_id: int) -> str:
        timestamp = int(time.time())
        digest = self._hash(obj, object_id, timestamp, settings.SECRET_KEY)
        return f"{int_to_base36(object_id)}-{int_to_base36(timestamp)}-{digest}"

    def parse_id(self, token: str) -> int | None:
        """The id a token names, or None if it is malformed (checks no signature)."""
        parts = token.split("-") if token and len(token) <= MAX_TOKEN_LENGTH else []
        if len(parts) != 3:
            return None
        try:
            return base36_to_int(parts[0])
        except ValueError:
            return None

    def check_token(self, obj: Any, token: str) -> TokenState:
        object_id = self.parse_id(token)
        if object_id is None:
            return TokenState.INVALID
        _id, timestamp_b36, digest = token.split("-")
        try:
            timestamp = base36_to_int(timestamp_b36)
        except ValueError:
            return TokenState.INVALID
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        if not any(
            constant_time_compare(self._hash(obj, object_id, timestamp, secret), digest)
            for secret in secrets
        ):
            return TokenState.INVALID
        if time.time() - timestamp > self.timeout():
            return TokenState.EXPIRED
        return TokenState.VALID

    def _hash(self, obj: Any, object_id: int, timestamp: int, secret: str) -> str:
        value = f"{self.state(obj)}|{object_id}|{timestamp}"
        digest = salted_hmac(self.key_salt, value, secret=secret, algorithm=self.algorithm)
        return digest.hexdigest()[::2]


class EmailConfirmationTokenGenerator(TimestampTokenGenerator):
    """Tokens that confirm one ``EmailAddress``; confirming it invalidates them."""

    key_salt = "useraccounts.tokens.EmailConfirmationTokenGenerator"

    def timeout(self) -> int:
        return app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS

    def state(self, email_address: Any) -> str:
        return f"{email_address.user_id}|{email_address.email}|{email_address.verified}"


class PasswordResetTokenGenerator(TimestampTokenGenerator):
    """Tokens that reset one user's password; the id is the unverified ``EmailAddress``
    the link was sent to (0 when none), so following it can mark that address verified.

    Setting a password or logging in changes the signed state, so a link works once.
    """

    key_salt = "useraccounts.tokens.PasswordResetTokenGenerator"

    def timeout(self) -> int:
        return app_settings.PASSWORD_RESET_TIMEOUT_SECONDS

    def state(self, user: Any) -> str:
        last_login = "" if user.last_login is None else int(user.last_login.timestamp())
        email = getattr(user, user.get_email_field_name(), "") or ""
        return f"{user.pk}|{user.password}|{last_login}|{user.is_active}|{email}"

    def unchanged(self, user: Any) -> dict[str, Any]:
        """Lookups that match ``user``'s row only while its signed state is as loaded:
        an UPDATE filtered by them acts once, however many requests race with the link."""
        signed = {"password", "last_login", "is_active", user.get_email_field_name()}
        lookups = {
            field.attname: getattr(user, field.attname)
            for field in user._meta.concrete_fields
            if field.name in signed
        }
        return {"pk": user.pk, **lookups}


email_confirmation_token_generator = EmailConfirmationTokenGenerator()
password_reset_token_generator = PasswordResetTokenGenerator()
