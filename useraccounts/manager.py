"""All account logic, in one replaceable class.

Views, forms, the admin and management commands call :class:`AccountManager` and never
repeat its logic. It sends every signal of :mod:`useraccounts.signals`. A project swaps
it with ``USERACCOUNTS_MANAGER = "myproject.accounts.MyManager"`` (a subclass) and reaches
the active one with :func:`get_account_manager`.

Every operation has one shape (see :mod:`useraccounts.operations`): a start signal, the
work in one transaction with its success signals, and on any failure a rollback, then
the failure signal, then an :class:`~useraccounts.exceptions.AccountError` whose
``code`` is that signal's ``error_type`` or ``reason``.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.conf import settings
from django.contrib.auth import logout as django_logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .account import AccountMixin
from .authentication import LoginMixin
from .conf import app_settings
from .delivery import DeliveryMixin
from .exceptions import (
    AuthenticationError,
    EmailAddressError,
    PasswordChangeError,
    PasswordResetRequestError,
    UserDeletionError,
)
from .models import EmailAddress, normalize_email
from .passwords import PasswordsMixin
from .registration import RegistrationMixin
from .users import display_name, has_username

#: Failed logins that count against the limits: the others had the right password.
GUESSES = ("user_not_found", "incorrect_password")


class AccountManager(RegistrationMixin, AccountMixin, LoginMixin, DeliveryMixin, PasswordsMixin):
    """The account operations of the app; subclass it to change one step.

    Override points a subclass is expected to use: :meth:`validate_password`,
    :meth:`clean_username`, :meth:`clean_email`, :meth:`send_mail` and
    :meth:`get_login_redirect_url`.
    """

    # --- registration ---------------------------------------------------------------------

    @sensitive_variables("password")
    def register_user(
        self, request: HttpRequest | None, *, username: str | None, email: str, password: str
    ) -> AbstractBaseUser:
        """Create an account and send its confirmation email: all of it, or nothing."""
        username = username if has_username() else None
        try:
            self._send(signals.user_registration_started, request, username=username, email=email)
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc
        return self._register(request, username=username, email=email, password=password)

    # --- email confirmation ---------------------------------------------------------------

    def send_email_confirmation(
        self, request: HttpRequest | None, email_address: EmailAddress, *, signup: bool = False
    ) -> None:
        """Email a confirmation link for ``email_address``; raises ``EmailSendError``."""
        self.check_deliverable(email_address)
        token = self.confirmation_token_generator.make_token(email_address, email_address.pk)
        path = reverse("useraccounts:confirm_email", args=[token])
        context = {
            "user": email_address.user,
            **self.account_context(email_address.user, email_address),
            "email_address": email_address,
            "activate_url": self.build_absolute_url(request, path),
            "signup": signup,
            "expire_hours": app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS // 3600,
        }
        user = email_address.user
        self.send_mail(
            request, kind="email_confirmation", to=email_address.email, context=context, user=user
        )
        self._send(
            signals.email_confirmation_sent,
            request,
            user=user,
            email_address=email_address,
            signup=signup,
        )

    @sensitive_variables("password")
    def verify_email(
        self, request: HttpRequest | None, token: str, *, password: str | None = None
    ) -> EmailAddress:
        """Mark the token's address verified for its account; the token cannot be used
        again, and every other account's unverified row for the address is removed.

        The link proves the mailbox; the confirmer must also hold the account (see
        :meth:`confirmation_needs_password`): logged in as it, in the browser that signed
        up with or added the address, or with the account's ``password``.
        """
        return self._verify_email(request, token, password)

    # --- login and logout -----------------------------------------------------------------

    @sensitive_variables("password")
    def authenticate_user(
        self, request: HttpRequest | None, *, login: str, password: str
    ) -> AbstractBaseUser:
        """Check a login and password; the caller logs the user in (:meth:`login_user`).

        Costs exactly one password hash whether or not the account exists.
        """
        user, counted = None, None
        try:
            self._send(signals.user_authentication_started, request, username=login)
            user = self.find_user_for_login(str(login))
            # Counted before the password is checked, so concurrent guesses cannot pass
            # the limit; per account whatever login named it, per typed login otherwise.
            counted = self.count_login_attempt(request, str(login), user)
            if user is None:
                self._dummy_hash(password)
                raise AuthenticationError(code="user_not_found")
            if not self._check_password(request, user, password):
                raise AuthenticationError(code="incorrect_password")
            if not user.is_active:
                raise AuthenticationError(code="user_inactive")
            if (
                app_settings.EMAIL_VERIFICATION == "mandatory"
                and not self.has_verified_email(user)
                and self.adopt_legacy_address(request, user) is None
            ):
                raise AuthenticationError(code="email_not_verified")
        except Exception as exc:
            if counted is not None and getattr(exc, "code", None) not in GUESSES:
                ratelimit.refund(counted)  # the password was right: not a guess
            raise self._login_failed(request, exc, login, user) from exc
        ratelimit.refund(counted)  # a successful login gives its attempt back
        return user

    def logout_user(self, request: HttpRequest) -> None:
        """End the session; ``user_logged_out`` only if someone was logged in."""
        user = getattr(request, "user", None)
        django_logout(request)
        if user is not None and user.is_authenticated:
            self._send(signals.user_logged_out, request, user=user)

    # --- passwords --------------------------------------------------------------------

    def request_password_reset(
        self, request: HttpRequest | None, *, email: str, rate_limit: bool = True
    ) -> None:
        """Email a reset link to the account that has ``email``, if there is one.

        Raises on every failure (``user_not_found`` included) so code knows what
        happened; the view shows the same page for all of them but a rate limit.
        ``rate_limit=False`` is for staff acting on many users (the admin action).
        """
        try:
            self._send(signals.password_reset_request_started, request, email=email)
            normalized = normalize_email(str(email))
            if rate_limit:
                ratelimit.consume("reset_password", request, key=normalized)
            with self._transaction_for(signals.password_reset_request_processed):
                found = self.find_reset_recipient(request, normalized)
                if found is None:
                    self.send_no_account_note(request, normalized, "reset")
                    raise PasswordResetRequestError(code="user_not_found")
                user, address = found
                self.send_password_reset(request, user, address)
                self._send(
                    signals.password_reset_request_processed, request, email=email, user=user
                )
        except Exception as exc:
            raise self._fail(
                request,
                exc,
                PasswordResetRequestError,
                signals.password_reset_request_failed,
                email=email,
            ) from exc

    @sensitive_variables("new_password")
    def reset_password(
        self, request: HttpRequest | None, *, uidb64: str, token: str, new_password: str
    ) -> AbstractBaseUser:
        """Set a new password through a reset link; the link then stops working."""
        return self._reset_password(request, uidb64, token, lambda: new_password)

    @sensitive_variables("old_password", "new_password")
    def change_password(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        *,
        old_password: str,
        new_password: str,
    ) -> None:
        """Change a logged-in user's password; their other sessions end, this one stays."""
        try:
            ratelimit.consume("change_password", request, user_id=user.pk)
            if not self._check_password(request, user, old_password):
                raise PasswordChangeError(
                    code="incorrect_password",
                    field_errors={
                        "old_password": [PasswordChangeError.messages["incorrect_password"]]
                    },
                )
            with transaction.atomic():
                self._store_password(request, user, new_password)
                self._send(signals.password_changed, request, user=user)
        except Exception as exc:
            raise self._fail(
                request, exc, PasswordChangeError, signals.password_change_failed, user=user
            ) from exc
        self._keep_session(request, user)

    # --- the account and its addresses -----------------------------------------------------

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

    def add_email(
        self, request: HttpRequest | None, user: AbstractBaseUser, email: str
    ) -> EmailAddress:
        """Add an unverified address and email it a confirmation link.

        An address another account has verified is added all the same, so the answer
        and the list look exactly as for a free one; its owner gets a notice instead of
        a link, and it can never be confirmed here.
        """
        email = normalize_email(str(email))
        try:
            try:
                validate_email(email)
            except ValidationError as exc:
                raise EmailAddressError(
                    code="validation_error", field_errors={"email": exc.messages}
                ) from exc
            ratelimit.consume("confirm_email", request, key=email, user_id=user.pk)
            with transaction.atomic():
                # The user's row, locked: concurrent adds count one after the other.
                self._locked_user(user, EmailAddressError)
                self._check_can_add(user, email)
                address = EmailAddress.objects.create(user=user, email=email)
                self.send_email_confirmation_or_notice(request, address)
                self._send(signals.email_added, request, user=user, email_address=address)
        except IntegrityError as exc:  # the same address added twice at the same moment
            error = EmailAddressError(reason="already_yours")
            raise self._address_failed(request, error, user, email, "add") from exc
        except Exception as exc:
            raise self._address_failed(request, exc, user, email, "add") from exc
        return address

    def remove_email(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Remove an address: never the primary one, never the last verified one."""
        try:
            with transaction.atomic():
                address = self._own_address(user, email_address)
                self._check_can_remove(user, address)
                removed = copy.copy(address)  # delete() clears the pk; receivers get it whole
                address.delete()
                self._send(signals.email_removed, request, user=user, email_address=removed)
        except Exception as exc:
            raise self._address_failed(request, exc, user, email_address, "remove") from exc

    def set_primary_email(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        email_address: EmailAddress | str,
    ) -> None:
        """Make a verified address the primary one; the user model's email follows."""
        try:
            with transaction.atomic():
                self._set_primary(request, user, self._own_address(user, email_address))
        except Exception as exc:
            raise self._address_failed(request, exc, user, email_address, "primary") from exc

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Where to go after login: a safe ``next``, else ``LOGIN_REDIRECT_URL`` (a URL,
        a path or a named URL pattern, as Django's own ``LoginView`` reads it)."""
        return safe_next_url(request) or resolve_url(settings.LOGIN_REDIRECT_URL)


def safe_next_url(request: HttpRequest) -> str | None:
    """The request's ``next`` if it points at this site, else None."""
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


@functools.lru_cache(maxsize=8)
def _manager_class(path: str) -> type[AccountManager]:
    try:
        manager_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"USERACCOUNTS_MANAGER is {path!r}, which cannot be imported ({exc}). Set it to "
            'the dotted path of an AccountManager subclass, e.g. "myproject.accounts.MyManager".'
        ) from exc
    if not (isinstance(manager_class, type) and issubclass(manager_class, AccountManager)):
        raise ImproperlyConfigured(
            f"USERACCOUNTS_MANAGER is {path!r}, which is not a subclass of "
            "useraccounts.manager.AccountManager. Subclass it and point the setting at yours."
        )
    return manager_class


def get_account_manager() -> AccountManager:
    """The manager the project configured (``USERACCOUNTS_MANAGER``)."""
    return _manager_class(app_settings.MANAGER)()
