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
from .emails import delivery_error_code
from .exceptions import AccountError, EmailAddressError, UserUpdateError
from .models import EmailAddress, normalize_email, one_or_none
from .operations import OperationsMixin

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


def send_failed_code(error: AccountError) -> str:
    """The ``error_type`` of ``email_confirmation_send_failed`` for a refused ``send``."""
    if getattr(error, "reason", None) == "already_verified":
        return "already_verified"
    return "user_not_found" if error.code == "not_found" else error.code


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
            if (
                field.editable
                and not field.primary_key
                and name not in forbidden_profile_fields(User)
            ):
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
            raise EmailAddressError(reason="not_yours")
        return address

    def _check_can_add(self, user: AbstractBaseUser, email: str) -> None:
        rows = list(EmailAddress.objects.filter(user_id=user.pk))
        if any(row.email == email for row in rows):
            raise EmailAddressError(reason="already_yours")
        if sum(not row.expired for row in rows) >= app_settings.MAX_EMAIL_ADDRESSES:
            raise EmailAddressError(code="limit_reached")

    def send_email_confirmation_or_notice(
        self, request: HttpRequest | None, email_address: EmailAddress
    ) -> None:
        """A confirmation link for an address of this account; for one that another
        account has verified, a notice to its owner instead (the visitor sees the same)."""
        holder = (
            EmailAddress.objects.filter(email=email_address.email, verified=True)
            .exclude(user_id=email_address.user_id)
            .exists()
        )
        if holder:
            self.send_account_exists_notice(request, email_address.email, added=True)
        else:
            self.send_email_confirmation(request, email_address)

    def _set_primary(
        self, request: HttpRequest | None, user: AbstractBaseUser, address: EmailAddress
    ) -> None:
        if not address.verified:
            raise EmailAddressError(code="not_verified")
        if address.primary:
            return
        previous = (
            EmailAddress.objects.select_for_update().filter(user_id=user.pk, primary=True).first()
        )
        if previous is not None:  # one primary per user: the constraint checks each save
            previous.primary = False
            previous.save(update_fields=["primary"])
        address.primary = True
        address.save(update_fields=["primary"])
        setattr(user, user.get_email_field_name(), address.email)
        user.save(update_fields=[user.get_email_field_name()])
        self._send(
            signals.email_changed,
            request,
            user=user,
            from_email_address=previous,
            to_email_address=address,
        )

    def _address_failed(
        self,
        request: HttpRequest | None,
        exc: Exception,
        user: AbstractBaseUser,
        email: EmailAddress | str,
        action: str,
    ) -> AccountError:
        """Send ``email_address_failed`` (and, for ``send``, ``email_confirmation_send_failed``)
        after the rollback; return the error the caller raises."""
        error = self._fail(request, exc, EmailAddressError, None)
        error.code = delivery_error_code(exc, error)
        self._send_robust(
            signals.email_address_failed,
            request,
            user=user,
            email=str(email),
            action=action,
            error_type=error.code,
            exception=exc,
        )
        if action == "send":
            self._send_robust(
                signals.email_confirmation_send_failed,
                request,
                email=str(email),
                user=user,
                error_type=send_failed_code(error),
                exception=exc,
            )
        return error

    def _check_can_remove(self, user: AbstractBaseUser, address: EmailAddress) -> None:
        if address.primary:
            raise EmailAddressError(reason="is_primary")
        others_verified = (
            EmailAddress.objects.filter(user_id=user.pk, verified=True)
            .exclude(pk=address.pk)
            .exists()
        )
        if address.verified and not others_verified:
            raise EmailAddressError(reason="last_verified")

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
        try:
            with transaction.atomic():
                address = self._own_address(user, email_address)
                if address.verified:
                    raise EmailAddressError(reason="already_verified")
                ratelimit.consume("confirm_email", request, key=address.email, user_id=user.pk)
                self.send_email_confirmation_or_notice(request, address)
        except Exception as exc:
            raise self._address_failed(request, exc, user, email_address, "send") from exc
