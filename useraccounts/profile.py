"""The account page and the account's end: profile fields (never one that grants
privileges or changes the login), deactivation, and deletion behind the password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import (
    get_user_model,
)
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.forms.models import model_to_dict, modelform_factory
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .conf import app_settings
from .exceptions import (
    UserDeletionError,
    UserUpdateError,
)
from .passwords import PasswordsMixin
from .users import display_name

#: User-model fields no profile form may offer, whatever ``USERACCOUNTS_PROFILE_FIELDS``
#: says: each grants privileges (``is_staff``...), holds a credential (``password``), or
#: is the account's identity or history, which only the app's own flows change (the
#: email through confirmation, so an unverified address never becomes the login).
#: :func:`forbidden_profile_fields` adds the model's own username and email fields.
FORBIDDEN_PROFILE_FIELDS: frozenset[str] = frozenset(
    {
        "is_staff",
        "is_superuser",
        "is_active",
        "groups",
        "user_permissions",
        "password",
        "username",
        "email",
        "last_login",
        "date_joined",
    }
)


def forbidden_profile_fields(User: type[AbstractBaseUser] | None = None) -> frozenset[str]:
    """The fields of ``User`` (the active user model by default) a user must never edit on
    the account page: :data:`FORBIDDEN_PROFILE_FIELDS` plus the model's ``USERNAME_FIELD``
    and email field, whatever a custom model names them (a login name changed without
    the app's checks, or an address changed without confirmation, is an account taken
    over). The system check reports them (``useraccounts.E010``) and the account page
    refuses them, so a silenced check still cannot make them editable."""
    User = User or get_user_model()
    return FORBIDDEN_PROFILE_FIELDS | {User.USERNAME_FIELD, User.get_email_field_name()}


def without_passwords(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as signals may carry it: no key that looks like a password."""
    return {key: value for key, value in data.items() if "password" not in str(key).lower()}


class ProfileMixin(PasswordsMixin):
    """``update_user`` and ``delete_user``, and the profile fields they allow."""

    def update_user(
        self, request: HttpRequest | None, user: AbstractBaseUser, data: dict[str, Any]
    ) -> AbstractBaseUser:
        """Save profile fields (``USERACCOUNTS_PROFILE_FIELDS``), validated by the model."""
        return self._update(request, user, data, self.get_profile_fields())

    @sensitive_variables("password")
    def delete_user(
        self, request: HttpRequest | None, user: AbstractBaseUser, *, password: str
    ) -> None:
        """Delete the account and its addresses (or deactivate it, per
        ``USERACCOUNTS_DELETE_MODE``) once the password is confirmed; then log out."""
        user_id, username = user.pk, display_name(user)
        try:
            self._send(signals.user_deletion_started, request, user_id=user_id)
            # Counted before the password is checked: a stolen session cannot guess it.
            ratelimit.consume("delete_account", request, user_id=user_id)
            with transaction.atomic():
                current = self._locked_user(user, UserDeletionError)
                if not self._check_password(request, current, password):
                    raise UserDeletionError(
                        code="incorrect_password",
                        field_errors={
                            "password": [UserDeletionError.messages["incorrect_password"]]
                        },
                    )
                if app_settings.DELETE_MODE == "deactivate":
                    current.is_active = False
                    current.save(update_fields=["is_active"])
                else:
                    current.delete()  # its EmailAddress rows go with it (CASCADE)
                self._send(signals.user_deleted, request, user_id=user_id, username=username)
        except Exception as exc:
            raise self._fail(
                request,
                exc,
                UserDeletionError,
                signals.user_deletion_failed,
                user_id=user_id,
                username=username,
            ) from exc
        if request is not None and getattr(request, "user", None) == user:
            request.session.flush()
            request.user = AnonymousUser()

    def get_profile_fields(self) -> list[str]:
        """The user-model fields a user edits on the account page."""
        User = get_user_model()
        names = app_settings.PROFILE_FIELDS or ("first_name", "last_name")
        fields = []
        for name in names:
            try:
                field = User._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if (
                field.editable
                and not field.primary_key
                and name not in forbidden_profile_fields(User)
            ):
                fields.append(name)
        return fields

    def get_profile_form_class(self, fields: list[str] | None = None) -> type[forms.ModelForm]:
        return modelform_factory(get_user_model(), fields=fields or self.get_profile_fields())

    def set_user_active(
        self, request: HttpRequest | None, user: AbstractBaseUser, active: bool
    ) -> AbstractBaseUser:
        """Deactivate (or reactivate) an account: a deactivated user's sessions stop
        working at their next request, and it cannot log in."""
        return self._update(request, user, {"is_active": active}, ["is_active"])

    def _update(
        self, request: HttpRequest | None, user: AbstractBaseUser, data: dict, fields: list[str]
    ) -> AbstractBaseUser:
        """Validate ``data`` with the model's own rules and save it: one whole update."""
        update_data = without_passwords(dict(data))
        user_id = user.pk
        try:
            self._send(
                signals.user_update_started, request, user_id=user_id, update_data=update_data
            )
            unknown = sorted(set(data) - set(fields))
            if unknown:
                raise ValidationError(
                    {
                        None: [
                            f"These fields cannot be changed here: {', '.join(map(str, unknown))}."
                        ]
                    }
                )
            with transaction.atomic():
                current = self._locked_user(user, UserUpdateError)
                form_class = self.get_profile_form_class(fields)
                form = form_class({**model_to_dict(current, fields), **data}, instance=current)
                if not form.is_valid():
                    raise ValidationError(form.errors.as_data())
                user = form.save()
                self._send(signals.user_updated, request, user=user, update_data=update_data)
        except Exception as exc:
            raise self._fail(
                request,
                exc,
                UserUpdateError,
                signals.user_update_failed,
                user_id=user_id,
                update_data=update_data,
                user=user,
            ) from exc
        return user
