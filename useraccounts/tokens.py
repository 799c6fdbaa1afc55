"""Signed, expiring, single-use tokens for links sent by email.

A token is an HMAC over the state of the object it acts on and the time it was made.
Using the link changes that state, so a used token no longer matches: nothing needs to be
stored. The signature is checked before the age, so an expired token is told apart from a
forged one only when it is genuine.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

from .conf import app_settings

#: No genuine token is longer; anything longer is rejected before any work.
MAX_TOKEN_LENGTH = 100


class TokenState(enum.Enum):
    VALID = "valid"
    INVALID = "invalid_token"
    EXPIRED = "expired_token"


class TimestampTokenGenerator:
    """Makes and checks ``<timestamp>-<hmac>`` tokens; subclasses say what they sign."""

    key_salt = "useraccounts.tokens.TimestampTokenGenerator"
    algorithm = "sha256"

    def timeout(self) -> int:
        raise NotImplementedError

    def state(self, obj: Any) -> str:
        """Everything about ``obj`` whose change must invalidate its tokens."""
        raise NotImplementedError

    def make_token(self, obj: Any) -> str:
        timestamp = int(time.time())
        return f"{int_to_base36(timestamp)}-{self._hash(obj, timestamp, settings.SECRET_KEY)}"

    def check_token(self, obj: Any, token: str) -> TokenState:
        parts = token.split("-") if token and len(token) <= MAX_TOKEN_LENGTH else []
        if len(parts) != 2:
            return TokenState.INVALID
        try:
            timestamp = base36_to_int(parts[0])
        except ValueError:
            return TokenState.INVALID
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        if not any(
            constant_time_compare(self._hash(obj, timestamp, secret), parts[1])
            for secret in secrets
        ):
            return TokenState.INVALID
        if time.time() - timestamp > self.timeout():
            return TokenState.EXPIRED
        return TokenState.VALID

    def _hash(self, obj: Any, timestamp: int, secret: str) -> str:
        value = f"{self.state(obj)}|{timestamp}"
        digest = salted_hmac(self.key_salt, value, secret=secret, algorithm=self.algorithm)
        return digest.hexdigest()[::2]


class EmailConfirmationTokenGenerator(TimestampTokenGenerator):
    """Tokens that confirm one ``EmailAddress``; confirming it invalidates them."""

    key_salt = "useraccounts.tokens.EmailConfirmationTokenGenerator"

    def timeout(self) -> int:
        return app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS

    def state(self, email_address: Any) -> str:
        return (
            f"{email_address.pk}|{email_address.user_id}|{email_address.email}|"
            f"{email_address.verified}"
        )

    def make_token(self, email_address: Any) -> str:
        """The address's id leads, so checking the link needs one indexed lookup."""
        return f"{int_to_base36(email_address.pk)}-{super().make_token(email_address)}"

    def parse_id(self, token: str) -> int | None:
        """The ``EmailAddress`` id a token claims to be for, or None if it is malformed."""
        head, _sep, rest = token.partition("-")
        if not rest or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            return base36_to_int(head)
        except ValueError:
            return None

    def check_token(self, email_address: Any, token: str) -> TokenState:
        return super().check_token(email_address, token.partition("-")[2])


email_confirmation_token_generator = EmailConfirmationTokenGenerator()
