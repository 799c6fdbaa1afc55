"""The steps behind the account page, account deletion and the email page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.forms.models import model_to_dict, modelform_factory
from django.http import HttpRequest

from . import ratelimit, signals
from .conf import app_settings
from .exceptions import AccountError, EmailAddressError, UserUpdateError
from .models import EmailAddress, normalize_email, one_or_none
from .operations import OperationsMixin

#: Never editable through a profile update, whatever USERACCOUNTS_PROFILE_FIELDS says.
PROTECTED_FIELDS = {"password", "last_login", "is_superuser", "groups", "user_permissions"}


def without_passwords(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as signals may carry it: no key that looks like a password."""
    return {key: value for key, value in data.items() if "password" not in str(key).lower()}


class AccountMixin(OperationsMixin):
    """Profile editing, deletion and address rules; see the manager for the operations."""

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
            if field.editable and not field.primary_key and name not in PROTECTED_FIELDS:
                fields.append(name)
        return fields

    def get_profile_form_class(self, fields: list[str] | None = None) -> type[forms.ModelForm]:
        return modelform_factory(get_user_model(), fields=fields or self.get_profile_fields())

    def _locked_user(self, user: AbstractBaseUser, error_class: type[AccountError]) -> Any:
        """The user's row, locked for this transaction; gone means ``user_not_found``."""
        current = one_or_none(
            get_user_model()._default_manager.select_for_update().filter(pk=user.pk)
        )
        if current is None:
            raise error_class(code="user_not_found")
        return current

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

    def _own_address(
        self, user: AbstractBaseUser, email_address: EmailAddress | str
    ) -> EmailAddress:
        """The user's address (by instance or text), locked; anything else is refused."""
        lookup = (
            {"pk": email_address.pk}
            if isinstance(email_address, EmailAddress)
            else {"email": normalize_email(str(email_address))}
        )
        address = (
            EmailAddress.objects.select_for_update().filter(user_id=user.pk, **lookup).first()
        )
        if address is None:
            raise EmailAddressError(code="not_yours")
        return address

    def _check_can_add(self, user: AbstractBaseUser, email: str) -> None:
        addresses = list(
            EmailAddress.objects.filter(user_id=user.pk).values_list("email", flat=True)
        )
        if email in addresses:
            raise EmailAddressError(code="already_yours")
        if len(addresses) >= app_settings.MAX_EMAIL_ADDRESSES:
            raise EmailAddressError(code="limit_reached")
        if EmailAddress.objects.filter(email=email).exists():
            # Another account's: the view answers as if it were added, so that this
            # error tells nothing about that account.
            raise EmailAddressError(code="address_taken")

    def _check_can_remove(self, user: AbstractBaseUser, address: EmailAddress) -> None:
        if address.primary:
            raise EmailAddressError(code="is_primary")
        others_verified = (
            EmailAddress.objects.filter(user_id=user.pk, verified=True)
            .exclude(pk=address.pk)
            .exists()
        )
        if address.verified and not others_verified:
            raise EmailAddressError(code="last_verified")

    def set_user_active(
        self, request: HttpRequest | None, user: AbstractBaseUser, active: bool
    ) -> AbstractBaseUser:
        """Deactivate (or reactivate) an account: a deactivated user's sessions stop
        working at their next request, and it cannot log in."""
        return self._update(request, user, {"is_active": active}, ["is_active"])

    def resend_email_confirmation_for(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Send a new link for one of the user's unverified addresses."""
        with transaction.atomic():
            address = self._own_address(user, email_address)
            if address.verified:
                raise EmailAddressError(code="already_verified")
            ratelimit.consume("confirm_email", request, key=address.email)
            self.send_email_confirmation(request, address)
