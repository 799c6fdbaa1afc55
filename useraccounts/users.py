"""What the app needs to know about the project's user model, read at call time."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower


def has_username() -> bool:
    """Whether users have a username apart from their email (``USERNAME_FIELD``)."""
    User = get_user_model()
    return User.get_email_field_name() != User.USERNAME_FIELD


def username_field_name() -> str:
    return get_user_model().USERNAME_FIELD


def display_name(user: Any) -> str:
    """What to call a user in a signal or a page: the username, or the email."""
    return str(getattr(user, username_field_name(), "") or "")


def ci_index_fields(User: type[models.Model]) -> list[tuple[str, bool]]:
    """The user-model fields matched case-insensitively, and whether each is unique:
    the login (``USERNAME_FIELD``) and, where it is another field, the email."""
    fields = [(User.USERNAME_FIELD, True)]
    email_field = getattr(User, "EMAIL_FIELD", "email")
    if email_field != User.USERNAME_FIELD:
        fields.append((email_field, False))
    return fields


def ci_index_name(User: type[models.Model], field_name: str) -> str:
    """The name of the index on ``LOWER(field)`` (at most 30 characters, as Django asks)."""
    digest = hashlib.sha256(f"{User._meta.db_table}.{field_name}".encode()).hexdigest()
    return f"useraccounts_ci_{digest[:12]}"


def users_matching(field_name: str, value: str) -> models.QuerySet:
    """Users whose ``field_name`` equals ``value`` in any letter case.

    The database lowercases both sides (``LOWER(field) = LOWER(%s)``), so the index the
    migration made on ``LOWER(field)`` serves it and no Unicode rule differs between
    Python and the database.
    """
    return (
        get_user_model()
        ._default_manager.alias(useraccounts_ci=Lower(field_name))
        .filter(useraccounts_ci=Lower(Value(value)))
    )


def best_match(users: list[Any], value: str, field_name: str) -> Any:
    """The one user of a case-insensitive lookup; where users from before the app differ
    only in letter case, the one spelled exactly as typed, else None (ambiguous)."""
    if len(users) == 1:
        return users[0]
    return next((user for user in users if getattr(user, field_name) == value), None)
