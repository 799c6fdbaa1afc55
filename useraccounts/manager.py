"""All account logic, in one replaceable class.

Views, forms, the admin and management commands call :class:`AccountManager` and never
repeat its logic. It sends every signal of :mod:`useraccounts.signals`. A project swaps
it with ``USERACCOUNTS_MANAGER = "myproject.accounts.MyManager"`` (a subclass) and reaches
the active one with :func:`get_account_manager`.

Every operation follows one shape: a start signal, the work inside one transaction with
its success signals, and on any failure a rollback, then the failure signal (sent
robustly), then an :class:`~useraccounts.exceptions.AccountError` whose ``code`` is the
failure signal's ``error_type`` or ``reason``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import OuterRef
from django.dispatch import Signal
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import emails, ratelimit, signals
from .conf import app_settings
from .exceptions import (
    AccountError,
    AuthenticationError,
    EmailVerificationError,
    RegistrationError,
)
from .models import EmailAddress, normalize_email, verified_exists
from .tokens import TokenState, email_confirmation_token_generator
from .users import has_username, username_field_name

logger = logging.getLogger("useraccounts")

TOKEN_PREFIX_LENGTH = 10


class _PasswordError(Exception):
    """Hashing or checking a password raised; carries the user for the failure signal."""

    def __init__(self, signal: Signal, user: Any, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.signal, self.user, self.cause = signal, user, cause


class AccountManager:
    """The account operations of the app; subclass it to change one step.

    Override points a subclass is expected to use: :meth:`validate_password`,
    :meth:`clean_username`, :meth:`clean_email`, :meth:`send_mail` and
    :meth:`get_login_redirect_url`.
    """

    confirmation_token_generator = email_confirmation_token_generator

    # --- signals and failures ---------------------------------------------------------

    def _send(self, signal: Signal, request: HttpRequest | None, **kwargs: Any) -> None:
        signal.send(sender=get_user_model(), request=request, **kwargs)

    def _send_robust(self, signal: Signal, request: HttpRequest | None, **kwargs: Any) -> None:
        # Django logs each receiver's exception; a failure signal never changes the outcome.
        signal.send_robust(sender=get_user_model(), request=request, **kwargs)

    def _as_account_error(
        self,
        request: HttpRequest | None,
        exc: Exception,
        error_class: type[AccountError],
        *,
        duplicate_is_invalid: bool = False,
    ) -> AccountError:
        """Map any exception of an operation to the ``AccountError`` the caller sees."""
        if isinstance(exc, _PasswordError):
            self._send_robust(exc.signal, request, user=exc.user, exception=exc.cause)
            exc = exc.cause if isinstance(exc.cause, Exception) else exc
        if isinstance(exc, AccountError):
            return exc
        if isinstance(exc, ValidationError):
            fields = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            return error_class(code="validation_error", field_errors=fields)
        if duplicate_is_invalid and isinstance(exc, IntegrityError):
            # Lost a race with a concurrent signup: the database's unique constraints win.
            return error_class(
                code="validation_error",
                field_errors={
                    None: [_("An account with this username or email address already exists.")]
                },
            )
        if isinstance(exc, DatabaseError):
            logger.exception("Database error in %s", error_class.__name__)
            return error_class(code="repository_error")
        logger.exception("Unexpected error in %s", error_class.__name__)
        return error_class(code="unexpected_exception")

    # --- passwords ------------------------------------------------------------------------

    def validate_password(self, password: str, user: AbstractBaseUser | None = None) -> None:
        """Apply ``AUTH_PASSWORD_VALIDATORS``; raise ``ValidationError`` to refuse."""
        password_validation.validate_password(password, user)

    @sensitive_variables("password")
    def _hash_password(self, user: AbstractBaseUser, password: str) -> None:
        try:
            user.set_password(password)
        except Exception as exc:
            raise _PasswordError(signals.user_password_set_failed, user, exc) from exc

    @sensitive_variables("password")
    def _check_password(
        self, request: HttpRequest | None, user: AbstractBaseUser, password: str
    ) -> bool:
        try:
            success = user.check_password(password)
        except Exception as exc:
            raise _PasswordError(signals.user_password_check_failed, user, exc) from exc
        self._send(signals.user_password_checked, request, user=user, success=success)
        return success

    @sensitive_variables("password")
    def _dummy_hash(self, password: str) -> None:
        # An unknown login costs the same one hash as a known one, so the response time
        # does not tell who has an account (as Django's ModelBackend does).
        get_user_model()().set_password(password)

    # --- registration ---------------------------------------------------------------------

    def clean_username(self, username: str) -> str:
        """Normalize and validate a new username; raise ``ValidationError`` to refuse."""
        User = get_user_model()
        field = User._meta.get_field(User.USERNAME_FIELD)
        username = AbstractBaseUser.normalize_username(username.strip())
        username = field.clean(username, None)  # required, max_length and validators
        if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
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
        if EmailAddress.objects.filter(email=email).exists():
            raise ValidationError(
                _(
                    "An account with this email address already exists. Log in, or reset "
                    "your password if you forgot it."
                ),
                code="unique",
            )
        return email

    def build_user(self, *, username: str | None, email: str) -> AbstractBaseUser:
        """An unsaved user with its username (where the model has one) and email."""
        User = get_user_model()
        fields = {User.get_email_field_name(): email}
        if has_username():
            fields[User.USERNAME_FIELD] = username
        return User(**fields)

    def assign_default_groups(self, user: AbstractBaseUser) -> None:
        names = app_settings.DEFAULT_GROUPS
        if not names:
            return
        groups = list(Group.objects.filter(name__in=names))
        missing = set(names) - {g.name for g in groups}
        groups += [Group.objects.create(name=name) for name in sorted(missing)]
        user.groups.add(*groups)

    @sensitive_variables("password")
    def register_user(
        self, request: HttpRequest | None, *, username: str | None, email: str, password: str
    ) -> AbstractBaseUser:
        """Create an account, send its confirmation email; all or nothing."""
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
            if not form.is_valid():
                raise RegistrationError(
                    code="validation_error",
                    field_errors={k: list(v) for k, v in form.errors.items()},
                )
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc
        data = form.cleaned_data
        return self._register(
            request, username=data.get("username"), email=data["email"], password=data["password1"]
        )

    def _registration_failed(self, request, exc, username, email) -> AccountError:
        error = self._as_account_error(request, exc, RegistrationError, duplicate_is_invalid=True)
        self._send_robust(
            signals.user_registration_failed,
            request,
            username=username,
            email=email,
            error_type=error.code,
            error_message=error.summary(),
            exception=exc,
        )
        return error

    @sensitive_variables("password")
    def _register(self, request, *, username, email, password) -> AbstractBaseUser:
        try:
            if request is not None:
                ratelimit.consume("signup", request)
            with transaction.atomic():
                user = self._create_user(
                    request, username=username, email=email, password=password
                )
        except Exception as exc:
            raise self._registration_failed(request, exc, username, email) from exc
        return user

    @sensitive_variables("password")
    def _create_user(self, request, *, username, email, password) -> AbstractBaseUser:
        errors: dict[str, list[str]] = {}
        cleaned = {}
        fields = [("email", self.clean_email, email)]
        if has_username():
            fields.insert(0, ("username", self.clean_username, username or ""))
        for name, clean, value in fields:
            try:
                cleaned[name] = clean(value)
            except ValidationError as exc:
                errors[name] = exc.messages
        user = self.build_user(username=cleaned.get("username"), email=cleaned.get("email", ""))
        try:
            self.validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = exc.messages
        if errors:
            raise ValidationError(errors)
        self._hash_password(user, password)
        self._send(
            signals.user_pre_register,
            request,
            username=cleaned.get("username"),
            email=cleaned["email"],
        )
        user.save()
        self._send(signals.user_password_set, request, user=user)
        self.assign_default_groups(user)
        address = EmailAddress.objects.create(user=user, email=cleaned["email"], primary=True)
        if app_settings.EMAIL_VERIFICATION != "none":
            self.send_email_confirmation(request, address, signup=True)
        self._send(signals.user_signed_up, request, user=user)
        return user

    # --- email confirmation ---------------------------------------------------------------

    def build_absolute_url(self, request: HttpRequest | None, path: str) -> str:
        """An absolute link: from the request, or from ``USERACCOUNTS_SITE_URL`` without one."""
        if request is not None:
            return request.build_absolute_uri(path)
        if not app_settings.SITE_URL:
            raise ImproperlyConfigured(
                "USERACCOUNTS_SITE_URL is not set, and an email was sent outside a request "
                "(from code, the admin or a command). Set it to your site's address, e.g. "
                '"https://example.com".'
            )
        return app_settings.SITE_URL + path

    def send_mail(
        self,
        request: HttpRequest | None,
        *,
        kind: str,
        to: str,
        context: dict[str, Any],
        user: Any = None,
    ) -> None:
        """Send one message of the app; override to queue mail or add context."""
        context.setdefault(
            "site_name", request.get_host() if request is not None else app_settings.SITE_URL
        )
        emails.send_mail(request, kind=kind, to=to, context=context, user=user)

    def send_email_confirmation(
        self, request: HttpRequest | None, email_address: EmailAddress, *, signup: bool = False
    ) -> None:
        """Email a confirmation link for ``email_address``; raises ``EmailSendError``."""
        token = self.confirmation_token_generator.make_token(email_address)
        url = self.build_absolute_url(request, reverse("useraccounts:confirm_email", args=[token]))
        context = {
            "user": email_address.user,
            "email_address": email_address,
            "activate_url": url,
            "signup": signup,
            "expire_hours": app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS // 3600,
        }
        self.send_mail(
            request,
            kind="email_confirmation",
            to=email_address.email,
            context=context,
            user=email_address.user,
        )
        self._send(
            signals.email_confirmation_sent,
            request,
            user=email_address.user,
            email_address=email_address,
            signup=signup,
        )

    def resend_email_confirmation(self, request: HttpRequest | None, *, email: str) -> None:
        """Send a fresh link if ``email`` is an unverified address; else do nothing.

        The caller shows the same page either way, so the answer does not tell whether
        the address has an account. A send failure is logged, not shown, for that reason.
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
            pass  # logged by the send path

    def _address_for_token(self, token: str, *, for_update: bool = False) -> EmailAddress:
        address_id = self.confirmation_token_generator.parse_id(token)
        queryset = EmailAddress.objects.select_related("user")
        if for_update:
            queryset = queryset.select_for_update(of=("self",))
        address = queryset.filter(pk=address_id).first() if address_id is not None else None
        if address is None:
            raise EmailVerificationError(code="invalid_token")
        state = self.confirmation_token_generator.check_token(address, token)
        if state is TokenState.EXPIRED:
            raise EmailVerificationError(code="expired_token", user=address.user)
        if state is not TokenState.VALID:
            raise EmailVerificationError(code="invalid_token")
        return address

    def _verification_failed(self, request, exc: Exception, token: str) -> AccountError:
        error = self._as_account_error(request, exc, EmailVerificationError)
        self._send_robust(
            signals.user_email_verification_failed,
            request,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            error_type=error.code,
            exception=exc,
            user=getattr(error, "user", None),
        )
        return error

    def check_email_confirmation(self, request: HttpRequest | None, token: str) -> EmailAddress:
        """The address a confirmation token is for, without changing anything (for GET)."""
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

    def find_user_for_login(self, login: str) -> AbstractBaseUser | None:
        """The active-or-not user that ``login`` names, by the enabled login methods.

        Sets ``user.useraccounts_verified``: whether the user has a verified address.
        """
        User = get_user_model()
        methods = app_settings.LOGIN_METHODS if has_username() else {"email"}
        login = login.strip()
        if "email" in methods and "@" in login:
            address = EmailAddress.objects.for_login(login).first()
            if address is not None:
                address.user.useraccounts_verified = address.user_verified
                return address.user
        if "username" in methods or not has_username():
            value = login if has_username() else normalize_email(login)
            return (
                User._default_manager.annotate(
                    useraccounts_verified=verified_exists(OuterRef("pk"))
                )
                .filter(**{username_field_name(): value})
                .first()
            )
        return None

    def has_verified_email(self, user: AbstractBaseUser) -> bool:
        """Whether the user has a verified address (read from the login query if it can)."""
        verified = getattr(user, "useraccounts_verified", None)
        if verified is None:
            verified = EmailAddress.objects.filter(user=user, verified=True).exists()
        return bool(verified)

    @sensitive_variables("password")
    def authenticate_user(
        self, request: HttpRequest | None, *, login: str, password: str
    ) -> AbstractBaseUser:
        """Check a login and password; the caller logs the user in (see :meth:`login_user`).

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
            with transaction.atomic():  # a hash upgrade on check saves the user
                if not self._check_password(request, user, password):
                    raise AuthenticationError(code="incorrect_password")
            if not user.is_active:
                raise AuthenticationError(code="user_inactive")
            if app_settings.EMAIL_VERIFICATION == "mandatory" and not self.has_verified_email(
                user
            ):
                raise AuthenticationError(code="email_not_verified")
        except Exception as exc:
            error = self._as_account_error(request, exc, AuthenticationError)
            if error.code in ("user_not_found", "incorrect_password"):
                # Never reset on success: an attacker's count must keep growing.
                ratelimit.hit("login_failed", request, key=key)
            self._send_robust(
                signals.user_authentication_failed,
                request,
                username=login,
                reason=error.code,
                user=user,
                exception=exc,
            )
            raise error from exc
        return user

    def login_user(
        self, request: HttpRequest, user: AbstractBaseUser, *, remember: bool = False
    ) -> None:
        """Start the user's session (a new session key) and send ``user_logged_in``."""
        with transaction.atomic():
            django_login(request, user, backend=self.get_auth_backend())
            # Without "remember", the cookie ends with the browser session.
            request.session.set_expiry(settings.SESSION_COOKIE_AGE if remember else 0)
            self._send(signals.user_logged_in, request, user=user)

    def get_auth_backend(self) -> str:
        backends = settings.AUTHENTICATION_BACKENDS
        model_backend = "django.contrib.auth.backends.ModelBackend"
        return model_backend if model_backend in backends else backends[0]

    def logout_user(self, request: HttpRequest) -> None:
        """End the session; ``user_logged_out`` only if someone was logged in."""
        user = getattr(request, "user", None)
        django_logout(request)
        if user is not None and user.is_authenticated:
            self._send(signals.user_logged_out, request, user=user)

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
