"""What the app needs to know about the project's user model, read at call time."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def has_username() -> bool:
    """Whether users have a username apart from their email (``USERNAME_FIELD``)."""
    User = get_user_model()
    return User.get_email_field_name() != User.USERNAME_FIELD


def username_field_name() -> str:
    return get_user_model().USERNAME_FIELD


def display_name(user) -> str:
    """What to call a user in a signal or a page: the username, or the email."""
    return str(getattr(user, username_field_name(), "") or "")
