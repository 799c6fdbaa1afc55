"""The shape every account operation shares: signals in, failures out.

A success signal is sent with ``send`` inside the operation's transaction, so a receiver's
writes commit or roll back with it. A failure is mapped to an ``AccountError`` whose
``code`` is the failure signal's ``error_type`` or ``reason``; the failure signal is sent
with ``send_robust`` after the rollback, so a broken receiver cannot change the response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.dispatch import Signal
from django.http import HttpRequest

from .exceptions import AccountError

logger = logging.getLogger("useraccounts")


class PasswordError(Exception):
    """Hashing or checking a password raised; names the failure signal to send."""

    def __init__(self, signal: Signal, user: Any, cause: Exception) -> None:
        super().__init__(str(cause))
        self.signal, self.user, self.cause = signal, user, cause


class OperationsMixin:
    """Sending signals and turning any exception into the error the caller sees."""

    def _send(self, signal: Signal, request: HttpRequest | None, **kwargs: Any) -> None:
        signal.send(sender=get_user_model(), request=request, **kwargs)

    def _send_robust(self, signal: Signal, request: HttpRequest | None, **kwargs: Any) -> None:
        # Django logs each receiver's exception; a failure signal never changes the outcome.
        signal.send_robust(sender=get_user_model(), request=request, **kwargs)

    def _transaction_for(self, *signals: Signal) -> Any:
        """A transaction for an operation whose only other writes are its receivers'
        (and Django's): opened only when one of the signals has receivers to share it."""
        if any(signal.has_listeners(get_user_model()) for signal in signals):
            return transaction.atomic()
        return nullcontext()

    def _locked_user(self, user: Any, error_class: type[AccountError]) -> Any:
        """The user's row, locked for this transaction; gone means ``user_not_found``."""
        current = get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
        if current is None:
            raise error_class(code="user_not_found")
        return current

    def _fail(
        self,
        request: HttpRequest | None,
        exc: Exception,
        error_class: type[AccountError],
        signal: Signal | None,
        *,
        code_kwarg: str = "error_type",
        message_kwarg: str | None = None,
        on_duplicate: Callable[[], AccountError] | None = None,
        **kwargs: Any,
    ) -> AccountError:
        """Send ``signal`` for a failed operation (after its rollback); return the error.

        ``signal`` is None where the caller sends its failure signals itself (the
        address actions, which send two for ``send``); a hasher failure still sends its
        own signal.

        ``code_kwarg`` names the kwarg that carries the error's code (``error_type`` or
        ``reason``); ``message_kwarg``, if given, one that carries its text.

        ``on_duplicate``, if given, makes the error for an ``IntegrityError``: a race lost
        to a concurrent request, whose row the database's unique constraints let in
        first. It is called after the rollback, so it sees that row.
        """
        if isinstance(exc, PasswordError):
            self._send_robust(exc.signal, request, user=exc.user, exception=exc.cause)
            exc = exc.cause
        error = self._as_account_error(exc, error_class, on_duplicate)
        if signal is not None:
            kwargs[code_kwarg] = error.code
            if message_kwarg:
                kwargs[message_kwarg] = error.summary()
            self._send_robust(signal, request, exception=exc, **kwargs)
        return error

    def _as_account_error(
        self,
        exc: Exception,
        error_class: type[AccountError],
        on_duplicate: Callable[[], AccountError] | None = None,
    ) -> AccountError:
        if isinstance(exc, AccountError):
            return exc
        if isinstance(exc, ValidationError):
            fields = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            return error_class(code="validation_error", field_errors=fields)
        if on_duplicate is not None and isinstance(exc, IntegrityError):
            try:
                error = on_duplicate()
            except Exception as lookup_exc:  # looking for the other row failed in turn
                return self._as_account_error(lookup_exc, error_class)
            if error.code != "repository_error":
                return error
            # No row to blame: a fault like any other, logged below.
        if isinstance(exc, DatabaseError):
            logger.exception("Database error in %s", error_class.__name__)
            return error_class(code="repository_error")
        logger.exception("Unexpected error in %s", error_class.__name__)
        return error_class(code="unexpected_exception")
