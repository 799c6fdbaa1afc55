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

import functools
from typing import Any

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .authentication import LoginMixin
from .conf import app_settings
from .confirmation import ConfirmationMixin
from .exceptions import (
    AccountError,
    AuthenticationError,
    EmailVerificationError,
    PasswordChangeError,
    PasswordResetError,
    PasswordResetRequestError,
    RegistrationError,
)
from .models import EmailAddress, normalize_email
from .passwords import PasswordsMixin
from .registration import RegistrationMixin
from .users import has_username

TOKEN_PREFIX_LENGTH = 10


class AccountManager(RegistrationMixin, LoginMixin, ConfirmationMixin, PasswordsMixin):
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

    def register_user_from_form(self, request: HttpRequest | None, form: Any) -> AbstractBaseUser:
        """Sign up from a bound signup form: its input errors are a failed signup too."""
        username = str(form.data.get("username", "")) if has_username() else None
        email = str(form.data.get("email", ""))
        try:
            self._send(signals.user_registration_started, request, username=username, email=email)
            data = self._valid_form(form, RegistrationError)
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc
        return self._register(
            request,
            username=data.get("username"),
            email=data["email"],
            password=data["password1"],
        )

    def _registration_failed(self, request, exc, username, email) -> AccountError:
        return self._fail(
            request,
            exc,
            RegistrationError,
            signals.user_registration_failed,
            message_kwarg="error_message",
            duplicate_is_invalid=True,
            username=username,
            email=email,
        )

    @sensitive_variables("password")
    def _register(self, request, *, username, email, password) -> AbstractBaseUser:
        try:
            if request is not None:
                ratelimit.consume("signup", request)
            with transaction.atomic():
                return self._create_user(
                    request, username=username, email=email, password=password
                )
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc

    # --- email confirmation ---------------------------------------------------------------

    def send_email_confirmation(
        self, request: HttpRequest | None, email_address: EmailAddress, *, signup: bool = False
    ) -> None:
        """Email a confirmation link for ``email_address``; raises ``EmailSendError``."""
        token = self.confirmation_token_generator.make_token(email_address, email_address.pk)
        path = reverse("useraccounts:confirm_email", args=[token])
        context = {
            "user": email_address.user,
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

    def resend_email_confirmation(self, request: HttpRequest | None, *, email: str) -> None:
        """Send a fresh link if ``email`` is an unverified address; else do nothing.

        The caller shows the same page either way, so the answer does not tell whether
        the address has an account; for the same reason a send failure is logged (by the
        send path), not raised.
        """
        email = normalize_email(str(email))
        ratelimit.consume("confirm_email", request, key=email)
        address = (
            EmailAddress.objects.select_related("user").filter(email=email, verified=False).first()
        )
        if address is None:
            return
        try:
            with transaction.atomic():
                self.send_email_confirmation(request, address)
        except AccountError:
            pass

    def _verification_failed(self, request, exc: Exception, token: str) -> AccountError:
        return self._fail(
            request,
            exc,
            EmailVerificationError,
            signals.user_email_verification_failed,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            user=exc.user if isinstance(exc, EmailVerificationError) else None,
        )

    def check_email_confirmation(self, request: HttpRequest | None, token: str) -> EmailAddress:
        """The address a confirmation token is for, changing nothing (for GET)."""
        try:
            return self._address_for_token(token)
        except Exception as exc:
            raise self._verification_failed(request, exc, token) from exc

    def verify_email(self, request: HttpRequest | None, token: str) -> EmailAddress:
        """Mark the token's address verified; the token cannot be used again."""
        try:
            with transaction.atomic():
                address = self._address_for_token(token, for_update=True)
                address.verified, address.verified_at = True, timezone.now()
                address.save(update_fields=["verified", "verified_at"])
                self._send(
                    signals.email_confirmed, request, user=address.user, email_address=address
                )
        except Exception as exc:
            raise self._verification_failed(request, exc, token) from exc
        return address

    # --- login and logout -----------------------------------------------------------------

    @sensitive_variables("password")
    def authenticate_user(
        self, request: HttpRequest | None, *, login: str, password: str
    ) -> AbstractBaseUser:
        """Check a login and password; the caller logs the user in (:meth:`login_user`).

        Costs exactly one password hash whether or not the account exists.
        """
        user = None
        key = str(login).strip().lower()
        try:
            self._send(signals.user_authentication_started, request, username=login)
            ratelimit.check("login_failed", request, key=key)
            user = self.find_user_for_login(str(login))
            if user is None:
                self._dummy_hash(password)
                raise AuthenticationError(code="user_not_found")
            if not self._check_password(request, user, password):
                raise AuthenticationError(code="incorrect_password")
            if not user.is_active:
                raise AuthenticationError(code="user_inactive")
            if app_settings.EMAIL_VERIFICATION == "mandatory" and not self.has_verified_email(
                user
            ):
                raise AuthenticationError(code="email_not_verified")
        except Exception as exc:
            if getattr(exc, "code", None) in ("user_not_found", "incorrect_password"):
                # Never reset on success: an attacker's count must keep growing.
                ratelimit.hit("login_failed", request, key=key)
            raise self._fail(
                request,
                exc,
                AuthenticationError,
                signals.user_authentication_failed,
                code_kwarg="reason",
                username=login,
                user=user,
            ) from exc
        return user

    def login_user(
        self, request: HttpRequest, user: AbstractBaseUser, *, remember: bool = False
    ) -> None:
        """Start the user's session under a new key and send ``user_logged_in``."""
        with transaction.atomic():
            django_login(request, user, backend=self.get_auth_backend())
            # Without "remember", the cookie ends with the browser session.
            request.session.set_expiry(settings.SESSION_COOKIE_AGE if remember else 0)
            self._send(signals.user_logged_in, request, user=user)

    def logout_user(self, request: HttpRequest) -> None:
        """End the session; ``user_logged_out`` only if someone was logged in."""
        user = getattr(request, "user", None)
        django_logout(request)
        if user is not None and user.is_authenticated:
            self._send(signals.user_logged_out, request, user=user)

    # --- passwords --------------------------------------------------------------------

    def request_password_reset(self, request: HttpRequest | None, *, email: str) -> None:
        """Email a reset link to the account that has ``email``, if there is one.

        Raises on every failure (``user_not_found`` included) so code knows what
        happened; the view shows the same page for all of them but a rate limit.
        """
        try:
            self._send(signals.password_reset_request_started, request, email=email)
            normalized = normalize_email(str(email))
            ratelimit.consume("reset_password", request, key=normalized)
            with transaction.atomic():
                found = self.find_reset_recipient(normalized)
                if found is None:
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

    def check_password_reset_link(
        self, request: HttpRequest | None, *, uidb64: str, token: str
    ) -> AbstractBaseUser:
        """The user a reset link is for, changing nothing (for GET)."""
        try:
            return self._user_for_reset(uidb64, token)[0]
        except Exception as exc:
            raise self._reset_failed(request, exc, token, None) from exc

    @sensitive_variables("new_password")
    def reset_password(
        self, request: HttpRequest | None, *, uidb64: str, token: str, new_password: str
    ) -> AbstractBaseUser:
        """Set a new password through a reset link; the link then stops working."""
        return self._reset_password(request, uidb64, token, lambda: new_password)

    def reset_password_from_form(
        self, request: HttpRequest | None, *, uidb64: str, token: str, form: Any
    ) -> AbstractBaseUser:
        """Reset from a bound new-password form: its input errors are a failed reset too."""
        return self._reset_password(
            request,
            uidb64,
            token,
            lambda: self._valid_form(form, PasswordResetError)["new_password1"],
        )

    def _reset_password(self, request, uidb64, token, new_password) -> AbstractBaseUser:
        user = None
        try:
            self._send(
                signals.password_reset_started, request, token_prefix=token[:TOKEN_PREFIX_LENGTH]
            )
            with transaction.atomic():
                user, address_id = self._user_for_reset(uidb64, token, for_update=True)
                self._store_password(request, user, new_password())
                self._verify_reset_address(request, user, address_id)
                self._send(signals.password_reset, request, user=user)
        except Exception as exc:
            raise self._reset_failed(request, exc, token, user) from exc
        return user

    def _reset_failed(self, request, exc, token, user) -> AccountError:
        if user is None and isinstance(exc, PasswordResetError):
            user = exc.user
        return self._fail(
            request,
            exc,
            PasswordResetError,
            signals.password_reset_failed,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            user=user,
        )

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
            raise self._fail(request, exc, PasswordChangeError, None) from exc
        self._keep_session(request, user)

    @sensitive_variables("new_password")
    def set_password(
        self, request: HttpRequest | None, user: AbstractBaseUser, *, new_password: str
    ) -> None:
        """Give a password to an account that has none (e.g. one made in the admin)."""
        try:
            if user.has_usable_password():
                raise PasswordChangeError(code="password_exists")
            with transaction.atomic():
                self._store_password(request, user, new_password)
                self._send(signals.password_set, request, user=user)
        except Exception as exc:
            raise self._fail(request, exc, PasswordChangeError, None) from exc
        self._keep_session(request, user)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Where to go after login: a safe ``next``, else ``LOGIN_REDIRECT_URL``."""
        return safe_next_url(request) or settings.LOGIN_REDIRECT_URL


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
