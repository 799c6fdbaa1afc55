"""Turn each account signal into an ``AuditEvent`` row."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, transaction
from django.dispatch import Signal

from useraccounts import signals
from useraccounts.ratelimit import client_address

from .models import AuditEvent

logger = logging.getLogger("useraccounts.audit")

#: Kwargs kept in ``detail`` as they are (plain values, none of them secret).
PLAIN = (
    "username",
    "email",
    "error_type",
    "reason",
    "token_prefix",
    "signup",
    "success",
    "event_type",
    "update_data",
    "user_id",
)


def outcome_of(name: str, kwargs: dict[str, Any]) -> str:
    if name.endswith("_failed") or kwargs.get("success") is False:
        return AuditEvent.Outcome.FAILURE
    if name.endswith("_started"):
        return AuditEvent.Outcome.STARTED
    return AuditEvent.Outcome.SUCCESS


def text(value: Any) -> str:
    """``value`` as text a database takes: NUL (which PostgreSQL refuses) replaced."""
    return str(value).replace("\x00", "\ufffd")


def plain(value: Any) -> Any:
    """A JSON-safe form of a kwarg: a model becomes its id and text."""
    if isinstance(value, models.Model):
        return {"id": text(value.pk), "repr": text(value)}
    if isinstance(value, dict):
        return {text(k): plain(v) for k, v in value.items()}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return text(value)


def record(name: str, sender: Any, request: Any = None, **kwargs: Any) -> None:
    detail = {key: plain(kwargs[key]) for key in PLAIN if key in kwargs}
    for key in ("email_address", "from_email_address", "to_email_address"):
        if kwargs.get(key) is not None:
            detail[key] = text(kwargs[key].email)
    if kwargs.get("exception") is not None:
        detail["exception"] = type(kwargs["exception"]).__name__  # never its message
    user = kwargs.get("user")
    # Link only a saved user that is still there: a deleted one, one that was not found
    # or one never saved is kept in words only.
    linked = (
        user is not None
        and not user._state.adding
        and name != "user_deleted"
        and "user_not_found" not in (kwargs.get("error_type"), kwargs.get("reason"))
    )
    user_repr = text(kwargs.get("username") or "") if user is None else text(user.get_username())
    ip = client_address(request) if request is not None else None  # validated, or None
    agent = text(request.META.get("HTTP_USER_AGENT", ""))[:300] if request is not None else ""
    try:
        with transaction.atomic():  # a failure here must not break the account operation
            AuditEvent.objects.create(
                event=name,
                outcome=outcome_of(name, kwargs),
                user=user if linked else None,
                user_repr=user_repr[:254],
                ip=ip,
                user_agent=agent,
                detail=detail,
            )
    except Exception:
        logger.exception("Could not record the %s audit event", name)


def connect_all() -> None:
    """Connect one receiver to every signal of ``useraccounts.signals``."""
    for name, signal in vars(signals).items():
        if isinstance(signal, Signal):

            def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
                kwargs.pop("signal", None)
                record(_name, sender, **kwargs)

            signal.connect(receiver, weak=False, dispatch_uid=f"useraccounts.audit.{name}")


def disconnect_all() -> None:
    """Undo :func:`connect_all` (for measuring the account app alone)."""
    for name, signal in vars(signals).items():
        if isinstance(signal, Signal):
            signal.disconnect(dispatch_uid=f"useraccounts.audit.{name}")
