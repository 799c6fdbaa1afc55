"""Signup: ``register_user`` and each of its steps, one method a subclass can replace
(``clean_username`` and ``clean_email`` are the documented hooks)."""

from __future__ import annotations

from django.contrib.auth import (
    get_user_model,
)
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import IntegerField, Q, Value
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .conf import app_settings
from .confirmation import ConfirmationMixin
from .exceptions import (
    AccountError,
    RegistrationError,
)
from .models import EmailAddress, normalize_email
from .users import display_name, has_username, users_matching


class SignupMixin(ConfirmationMixin):
    """Validating and creating a new account, all of it or nothing."""

    @sensitive_variables("password")
    def register_user(
        self,
        request: HttpRequest | None,
        *,
        username: str | None,
        email: str,
        password: str,
        input_errors: dict[str, list[str]] | None = None,
    ) -> AbstractBaseUser:
        """Create an account and send its confirmation email: all of it, or nothing.

        ``input_errors`` are what the caller's own input validation refused (a form's
        errors, keyed ``username``, ``email``, ``password`` or ``None``): the signup then
        fails as ``validation_error`` with them and with this method's own checks of the
        other fields, so the visitor sees every error at once, and its failure signal is
        sent like any other's.
        """
        username = username if has_username() else None
        try:
            self._send(signals.user_registration_started, request, username=username, email=email)
            if request is not None and not input_errors:
                ratelimit.consume("signup", request)
            with transaction.atomic():
                return self._create_user(
                    request,
                    username=username,
                    email=email,
                    password=password,
                    input_errors=input_errors or {},
                )
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc

    def clean_username(self, username: str) -> str:
        """Normalize and validate a new username; raise ``ValidationError`` to refuse."""
        User = get_user_model()
        field = User._meta.get_field(User.USERNAME_FIELD)
        username = AbstractBaseUser.normalize_username(username.strip())
        username = field.clean(username, None)  # required, max_length and validators
        if users_matching(User.USERNAME_FIELD, username).exists():  # Carol is carol
            raise ValidationError(_("A user with that username already exists."), code="unique")
        return username

    def clean_email(self, email: str) -> str:
        """Normalize and validate a new address; raise ``ValidationError`` to refuse."""
        email = normalize_email(email)
        if not email:
            raise ValidationError(_("Enter your email address."), code="required")
        if len(email) > 254:
            raise ValidationError(_("An email address has at most 254 characters."))
        validate_email(email)
        if self.address_taken(email):
            raise ValidationError(
                _(
                    "An account with this email address already exists. Log in, or reset "
                    "your password if you forgot it."
                ),
                code="unique",
            )
        return email

    def address_taken(self, email: str) -> bool:
        """Whether an account owns ``email``: verified on it, or the own email of a user
        the app has no address rows for (from before the app, or ``createsuperuser``).
        An address only waiting for confirmation reserves nothing; but where the email
        is the login (``USERNAME_FIELD``), the user table holds one account per address,
        so an account that has logged in keeps it (see ``docs/security.rst``)."""
        holders = users_matching(get_user_model().get_email_field_name(), email)
        owned = Q(email_addresses__isnull=True)
        if not has_username():
            owned |= Q(last_login__isnull=False) | Q(email_addresses__verified=True)
        # One query: SELECT 1 ... UNION ALL SELECT 1 ..., each side on its own index.
        one = {"useraccounts_one": Value(1, output_field=IntegerField())}
        verified = EmailAddress.objects.filter(email=email, verified=True).annotate(**one)
        owners = holders.filter(owned).annotate(**one)
        taken = verified.values_list("useraccounts_one").union(
            owners.values_list("useraccounts_one"), all=True
        )
        return bool(list(taken[:1]))

    def _replace_pending_signup(self, request: HttpRequest | None, email: str) -> None:
        """Where the email is the login, a new signup for an address still waiting for
        confirmation replaces the account that waits for it (one that never logged in and
        never verified an address): it proved nothing, so it reserves nothing, and its
        links stop working."""
        if has_username():
            return
        for user in users_matching(get_user_model().get_email_field_name(), email).filter(
            last_login=None
        ):
            user_id, username = user.pk, display_name(user)
            user.delete()
            self._send(signals.user_deleted, request, user_id=user_id, username=username)

    def _hides_taken_email(self, error: ValidationError) -> bool:
        """Whether signup answers as if a taken address were free (see
        ``USERACCOUNTS_PREVENT_ENUMERATION``); only "mandatory" mode can, since the
        other modes log the new user in at once."""
        return (
            app_settings.PREVENT_ENUMERATION
            and app_settings.EMAIL_VERIFICATION == "mandatory"
            and any(e.code == "unique" for e in error.error_list)
        )

    def build_user(self, *, username: str | None, email: str) -> AbstractBaseUser:
        """An unsaved user with its username (where the model has one) and email."""
        User = get_user_model()
        fields = {User.get_email_field_name(): email}
        if has_username():
            fields[User.USERNAME_FIELD] = username
        return User(**fields)

    def assign_default_groups(self, user: AbstractBaseUser) -> None:
        """Add ``USERACCOUNTS_DEFAULT_GROUPS``, creating a group the first time it is used."""
        names = app_settings.DEFAULT_GROUPS
        if not names:
            return
        groups = list(Group.objects.filter(name__in=names))
        missing = set(names) - {group.name for group in groups}
        groups += [Group.objects.create(name=name) for name in sorted(missing)]
        user.groups.add(*groups)

    @sensitive_variables("password")
    def _create_user(
        self, request, *, username, email, password, input_errors
    ) -> AbstractBaseUser:
        errors: dict[str | None, list[str]] = {key: list(v) for key, v in input_errors.items()}
        cleaned: dict[str, str] = {}
        taken_email = None
        fields = [("username", self.clean_username, username or "")] if has_username() else []
        for name, clean, value in [*fields, ("email", self.clean_email, email)]:
            if name in errors:  # the caller's check refused it already: one error a field
                continue
            try:
                cleaned[name] = clean(value)
            except ValidationError as exc:
                if name == "email" and self._hides_taken_email(exc):
                    taken_email = cleaned["email"] = normalize_email(email)
                else:
                    errors[name] = exc.messages
        user = self.build_user(username=cleaned.get("username"), email=cleaned.get("email", ""))
        if "password" not in errors:
            try:
                self.validate_password(password, user)
            except ValidationError as exc:
                errors["password"] = exc.messages
        if errors:
            raise RegistrationError(code="validation_error", field_errors=errors)
        self._hash_password(user, password)  # the same one hash whether or not taken
        if taken_email:
            self.send_account_exists_notice(request, taken_email)
            raise RegistrationError(
                code="validation_error",
                field_errors={"email": [_("An account with this email address already exists.")]},
                shown_as_success=True,
            )
        self._replace_pending_signup(request, cleaned["email"])
        self._send(
            signals.user_pre_register,
            request,
            username=cleaned.get("username"),
            email=cleaned["email"],
        )
        user.save()
        self._password_set(request, user)
        self.assign_default_groups(user)
        address = EmailAddress.objects.create(user=user, email=cleaned["email"], primary=True)
        user.useraccounts_address = address  # the view lets this browser confirm it
        if app_settings.EMAIL_VERIFICATION != "none":
            self.send_email_confirmation(request, address, signup=True)
        self._send(signals.user_signed_up, request, user=user)
        return user

    def _registration_failed(self, request, exc, username, email) -> AccountError:
        return self._fail(
            request,
            exc,
            RegistrationError,
            signals.user_registration_failed,
            message_kwarg="error_message",
            on_duplicate=lambda: self._lost_race(request, username, email),
            username=username,
            email=email,
        )

    def _lost_race(self, request, username, email) -> AccountError:
        """The answer for a signup whose row the database refused as a duplicate: a
        concurrent request took its username or address between validation and insert,
        so it gets the answer of any signup with that value taken. Where nothing is taken
        (the other row is gone, or the duplicate was another value, such as a default
        group made at the same moment), it is a fault to try again."""
        errors: dict[str, list[str]] = {}
        if has_username():
            try:
                self.clean_username(username or "")
            except ValidationError as exc:
                errors["username"] = exc.messages
        email, waiting = normalize_email(email), False
        taken = _("An account with this email address already exists.")
        try:
            self.clean_email(email)
            # Where the email is the login, a signup still waiting for it holds its row.
            field = get_user_model().get_email_field_name()
            waiting = not has_username() and users_matching(field, email).exists()
            if waiting:
                raise ValidationError(taken, code="unique")
        except ValidationError as exc:
            if not self._hides_taken_email(exc):
                errors["email"] = exc.messages
            elif not errors:  # answered as _create_user answers a taken address
                if not waiting:  # its owner is told; a waiting signup was sent its link
                    self.send_account_exists_notice(request, email)
                return RegistrationError(
                    code="validation_error", field_errors={"email": [taken]}, shown_as_success=True
                )
        if errors:
            return RegistrationError(code="validation_error", field_errors=errors)
        return RegistrationError(code="repository_error")
