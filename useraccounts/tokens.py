"""Signed, expiring, single-use tokens for links sent by email.

A token is ``<id>-<timestamp>-<hmac>``: the id of the row it acts on (so checking it is
one indexed lookup) in front of a Django token (``<timestamp>-<hmac>``). The HMAC covers
the id, the time and the state of the object the token acts on. Using the link changes
that state, so a used token no longer matches and nothing needs to be stored.

The signing is Django's ``PasswordResetTokenGenerator``: its HMAC and truncation, its
``secret``/``secret_fallbacks`` (so rotating keys through ``SECRET_KEY_FALLBACKS`` keeps
links working) and its ``_now``/``_num_seconds`` clock hooks. What is added here: the id,
our own timeouts, and telling an expired token from a forged one. The signature is
checked before the age: a token is called expired only when it is genuine.
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.contrib.auth import tokens as django_tokens
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int, int_to_base36

from .conf import app_settings

#: Signals and logs carry this many characters of a token, never more.
TOKEN_PREFIX_LENGTH = 10

#: No genuine token is longer; anything longer is refused before any work.
MAX_TOKEN_LENGTH = 100


class TokenState(enum.Enum):
    """What checking a token found, so a view can say "expired" rather than "invalid".

    Only ``VALID`` is true: code written for Django's ``check_token`` (a bool) that is
    handed one of these generators cannot take a refused token for a good one.
    """

    VALID = "valid"
    INVALID = "invalid_token"
    EXPIRED = "expired_token"

    def __bool__(self) -> bool:
        return self is TokenState.VALID


class _Signed(NamedTuple):
    """What Django's ``_make_token_with_timestamp`` signs: the object and the id the
    token names (its ``user`` argument is passed through to ``_make_hash_value``)."""

    obj: Any
    object_id: int


class TimestampTokenGenerator(django_tokens.PasswordResetTokenGenerator):
    """Django's generator with an id in front of its token, an expiry of our own and a
    ``TokenState`` answer; subclasses say what they sign and for how long."""

    key_salt = "useraccounts.tokens.TimestampTokenGenerator"
    algorithm = "sha256"  # part of the token format: pinned whatever Django defaults to

    def timeout(self) -> int:
        """Seconds a token works (Django's class reads only PASSWORD_RESET_TIMEOUT)."""
        raise NotImplementedError

    def state(self, obj: Any) -> str:
        """Everything about ``obj`` whose change must invalidate its tokens."""
        raise NotImplementedError

    def default_id(self, obj: Any) -> int:
        """The id ``make_token(obj)`` names when the caller gives none."""
        raise NotImplementedError

    def make_token(self, obj: Any, object_id: int | None = None) -> str:
        """A token for acting on ``obj``, naming the row ``object_id``."""
        if object_id is None:
            object_id = self.default_id(obj)
        timestamp = self._num_seconds(self._now())
        signed = self._make_token_with_timestamp(_Signed(obj, object_id), timestamp, self.secret)
        return f"{int_to_base36(object_id)}-{signed}"

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
        """Whether ``token`` is genuine for ``obj`` as it is now, and still in time.

        Django's ``check_token`` answers False both for a forged and for an old token,
        and times out with PASSWORD_RESET_TIMEOUT; so this runs the same steps on its
        parts: its secrets in order, its ``_make_token_with_timestamp``, its clock.
        """
        object_id = self.parse_id(token)
        if obj is None or object_id is None:
            return TokenState.INVALID
        _id, timestamp_b36, digest = token.split("-")
        try:
            timestamp = base36_to_int(timestamp_b36)
        except ValueError:
            return TokenState.INVALID
        signed = f"{timestamp_b36}-{digest}"
        if not any(
            constant_time_compare(
                self._make_token_with_timestamp(_Signed(obj, object_id), timestamp, secret),
                signed,
            )
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return TokenState.INVALID
        if self._num_seconds(self._now()) - timestamp > self.timeout():
            return TokenState.EXPIRED
        return TokenState.VALID

    def _make_hash_value(self, signed: _Signed, timestamp: int) -> str:
        return f"{self.state(signed.obj)}|{signed.object_id}|{timestamp}"

    def _now(self) -> datetime:
        # Through time.time(), like the rate limits: one clock for both.
        return datetime.fromtimestamp(time.time(), tz=UTC)

    def _num_seconds(self, dt: datetime) -> int:
        # Unix time, not Django's seconds since 2001: tokens already sent keep their age.
        return int(dt.timestamp())


class EmailConfirmationTokenGenerator(TimestampTokenGenerator):
    """Tokens that confirm one ``EmailAddress``; confirming it invalidates them."""

    key_salt = "useraccounts.tokens.EmailConfirmationTokenGenerator"

    def timeout(self) -> int:
        """USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS."""
        return app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS

    def state(self, email_address: Any) -> str:
        """The owner, the address and whether it is verified."""
        return f"{email_address.user_id}|{email_address.email}|{email_address.verified}"

    def default_id(self, email_address: Any) -> int:
        """The address's own row."""
        return email_address.pk


class PasswordResetTokenGenerator(TimestampTokenGenerator):
    """Tokens that reset one user's password; the id is the unverified ``EmailAddress``
    the link was sent to (0 when none), so following it can mark that address verified.

    Setting a password or logging in changes the signed state, so a link works once.
    """

    key_salt = "useraccounts.tokens.PasswordResetTokenGenerator"

    def timeout(self) -> int:
        """USERACCOUNTS_PASSWORD_RESET_TIMEOUT_SECONDS, else PASSWORD_RESET_TIMEOUT."""
        return app_settings.PASSWORD_RESET_TIMEOUT_SECONDS

    def state(self, user: Any) -> str:
        """Password hash, last login, active flag and address: a reset or a login ends
        the link, and so does deactivating the account or changing its address."""
        last_login = "" if user.last_login is None else int(user.last_login.timestamp())
        email = getattr(user, user.get_email_field_name(), "") or ""
        return f"{user.pk}|{user.password}|{last_login}|{user.is_active}|{email}"

    def default_id(self, user: Any) -> int:
        """No address to verify."""
        return 0

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
