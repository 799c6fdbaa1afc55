"""Login and logout: finding the account a login names (one indexed query), checking its
password (one hash) through Django's ``authenticate()`` and the configured backends, the
login limits and device cookies, starting and ending the session, and where to go after
login (``get_login_redirect_url``, a documented hook)."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.db import DatabaseError, router, transaction
from django.db.models import QuerySet, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import (
    url_has_allowed_host_and_scheme,
)
from django.views.decorators.debug import sensitive_variables

from . import django_auth, ratelimit, signals
from .conf import app_settings
from .confirmation import ConfirmationMixin
from .exceptions import (
    AuthenticationError,
)
from .models import EmailAddress, newest_waiting, normalize_email
from .users import best_match, has_username, username_field_name, users_matching

logger = logging.getLogger("useraccounts")

#: The cookie a browser gets once it has logged in to an account: proof, signed by the
#: server, that it did, so the account's lockout does not apply to it.
DEVICE_COOKIE = "useraccounts_device"

DEVICE_SALT = "useraccounts.authentication.device"

DEVICE_MAX_AGE = 365 * 24 * 3600

#: Failed logins that count against the limits: the others had the right password.
GUESSES = ("user_not_found", "incorrect_password")


def login_limit_key(login: str, user: AbstractBaseUser | None) -> str:
    """What login limits count by: the account, or the typed login of an unknown one."""
    return f"user:{user.pk}" if user is not None else f"login:{login.strip().lower()}"


def safe_next_url(request: HttpRequest) -> str | None:
    """The request's ``next`` if it points at this site, else None."""
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


class LoginMixin(ConfirmationMixin):
    """``authenticate_user``, ``login_user`` and ``logout_user``, and their lookups."""

    @sensitive_variables("password")
    def authenticate_user(
        self, request: HttpRequest | None, *, login: str, password: str
    ) -> AbstractBaseUser:
        """Check a login and password; the caller logs the user in (:meth:`login_user`).

        The account is looked up and the attempt counted against the login limits first
        (so concurrent guesses cannot pass a limit), then Django's ``authenticate()``
        asks ``AUTHENTICATION_BACKENDS`` in order; ``AccountBackend`` (standing in for
        ``ModelBackend`` where the setting is Django's default) checks the password of
        the account looked up, at the cost of exactly one hash whether or not it exists.
        The user returned carries ``backend``, the path of the backend that accepted it.
        Every refusal sends Django's ``user_login_failed`` once.
        """
        user, counted, django_told = None, None, False
        try:
            self._send(signals.user_authentication_started, request, username=login)
            user = self.find_user_for_login(str(login))
            # Counted before the password is checked, so concurrent guesses cannot pass
            # the limit; per account whatever login named it, per typed login otherwise.
            counted = self.count_login_attempt(request, str(login), user)
            with django_auth.looked_up(str(login), user) as lookup:
                accepted = django_auth.authenticate(
                    request, username=str(login), password=password
                )
            if accepted is None:
                django_told = True  # authenticate() sent user_login_failed
                # AccountBackend says why it refused; if it did not run (a backend before
                # it raised PermissionDenied), the lookup tells as much as can be told.
                missing = "user_not_found" if user is None else "incorrect_password"
                raise AuthenticationError(code=lookup.refusal or missing)
            user = accepted  # maybe another backend's user (a directory, SSO)
            # AccountBackend refused an inactive account; another backend might not have.
            if not user.is_active:
                raise AuthenticationError(code="user_inactive")
            if (
                app_settings.EMAIL_VERIFICATION == "mandatory"
                and not self._has_verified_email(user)
                and self.adopt_legacy_address(request, user) is None
            ):
                error = AuthenticationError(code="email_not_verified")
                error.unverified_email = self._waiting_email(user)
                raise error
        except Exception as exc:
            if counted is not None and getattr(exc, "code", None) not in GUESSES:
                ratelimit.refund(counted)  # the password was right: not a guess
            raise self._login_failed(request, exc, login, user, django_told=django_told) from exc
        ratelimit.refund(counted)  # a successful login gives its attempt back
        return user

    def login_user(
        self, request: HttpRequest, user: AbstractBaseUser, *, remember: bool = False
    ) -> None:
        """Start the user's session under a new key and send ``user_logged_in``.

        If that fails (the session store or ``last_login`` cannot be written), the
        visitor is left logged out, ``user_authentication_failed`` is sent and an
        ``AuthenticationError`` raised (``repository_error`` for a database fault).
        """
        try:
            with self._transaction_for(signals.user_logged_in):
                self._start_session(request, user)
                # Without "remember", the cookie ends with the browser session.
                request.session.set_expiry(settings.SESSION_COOKIE_AGE if remember else 0)
                self._send(signals.user_logged_in, request, user=user)
        except Exception as exc:
            # Nobody stays logged in as ``user``: not in the stored session (Django saves
            # none for a 5xx answer, and a write that failed saved nothing), nor on this
            # request, for whoever answers it.
            try:
                if request.session.get(SESSION_KEY) == user._meta.pk.value_to_string(user):
                    for key in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY):
                        request.session.pop(key, None)
            except DatabaseError:  # the session could not even be read: nothing new in it
                pass
            request.user = AnonymousUser()
            raise self._login_failed(request, exc, user.get_username(), user) from exc

    def logout_user(self, request: HttpRequest) -> None:
        """End the session; ``user_logged_out`` only if someone was logged in.

        The session ends whatever a receiver does: one that raises has its writes rolled
        back and is logged with its traceback, since a logout refused for a receiver's
        bug (on a shared computer, say) is worse than a receiver that missed one."""
        user = getattr(request, "user", None)
        django_logout(request)
        if user is None or not user.is_authenticated:
            return
        try:
            with transaction.atomic(using=router.db_for_write(type(user))):
                self._send(signals.user_logged_out, request, user=user)
        except Exception:
            logger.exception("A user_logged_out receiver raised; the session is ended anyway")

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Where to go after login: a safe ``next``, else ``LOGIN_REDIRECT_URL`` (a URL,
        a path or a named URL pattern, as Django's own ``LoginView`` reads it) where the
        site sets it, else the account page (Django's default is a page nobody serves)."""
        return safe_next_url(request) or resolve_url(app_settings.LOGIN_REDIRECT_URL)

    def find_user_for_login(self, login: str) -> AbstractBaseUser | None:
        """The user (active or not) that ``login`` names, by the enabled login methods:
        one indexed query, two for a login that names no verified address.

        An address finds the account on which it is verified; else a user the app has no
        address rows for, by the user model's own email field in any letter case (a
        user from before the app, or made with ``createsuperuser``); else a user with
        that username; else the newest signup still waiting for the address (so its
        owner learns to confirm). A username is matched in any letter case.
        """
        methods = app_settings.LOGIN_METHODS if has_username() else {"email"}
        login = login.strip()
        by_email = "email" in methods and "@" in login
        pending = None
        if by_email:
            email = normalize_email(login)
            found = EmailAddress.objects.for_email_with_accounts(email)
            rows = [row for row in found if row.email == email]
            for row in rows:
                if row.verified:
                    user = row.user
                    user.useraccounts_verified = True  # spares has_verified_email()
                    # Spares the JSON API's answer, which lists them, a query.
                    user.useraccounts_addresses = [r for r in found if r.user_id == user.pk]
                    return user
            waiting = newest_waiting(rows)
            pending = waiting.user if waiting is not None else None
        # The other lookups share one query: legacy users by email, users by username.
        lookups = []
        if by_email:
            lookups.append(("email", self._legacy_users(login)))
        if "username" in methods and has_username():
            lookups.append(("username", users_matching(username_field_name(), login)))
        if not lookups:
            return pending
        queries = [qs.annotate(useraccounts_via=Value(via)) for via, qs in lookups]
        found = list(queries[0].union(*queries[1:], all=True)[:10]) if queries else []
        email_field = get_user_model().get_email_field_name()
        for via, field in (("email", email_field), ("username", username_field_name())):
            user = best_match([u for u in found if u.useraccounts_via == via], login, field)
            if user is not None:
                return user
        return pending

    def _find_legacy_user(self, email: str) -> AbstractBaseUser | None:
        """A user without address rows whose own email field is ``email``, in any case."""
        email_field = get_user_model().get_email_field_name()
        return best_match(list(self._legacy_users(email)[:10]), email, email_field)

    def _legacy_users(self, email: str) -> QuerySet:
        """Users the app has no address rows for, whose own email field is ``email``."""
        email_field = get_user_model().get_email_field_name()
        return users_matching(email_field, normalize_email(email)).filter(
            email_addresses__isnull=True
        )

    def count_login_attempt(
        self, request: HttpRequest | None, login: str, user: AbstractBaseUser | None
    ) -> ratelimit.Attempt:
        """Count a login attempt before its password is checked (raises ``RateLimited``).

        A known account is counted by its id, so its username and each of its addresses
        share one allowance; an unknown login by what was typed; both also per IP. A
        browser that logged in to the account before (its device cookie) is counted
        alone instead (OWASP's device cookies), so a stranger spending the account's
        allowance cannot lock the owner out.
        """
        device = self._trusted_device(request, user)
        if device is not None:
            return ratelimit.attempt("login_device", request, device=device)
        return ratelimit.attempt("login_failed", request, key=login_limit_key(login, user))

    def _trusted_device(
        self, request: HttpRequest | None, user: AbstractBaseUser | None
    ) -> str | None:
        """The id of this browser's device cookie, if it was issued for ``user``."""
        value = request.COOKIES.get(DEVICE_COOKIE) if request is not None else None
        if not value or user is None:
            return None
        try:
            data = signing.loads(value, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
        except (signing.BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or data.get("u") != str(user.pk):
            return None
        return str(data.get("d", ""))[:64] or None

    def remember_device(
        self, request: HttpRequest, response: HttpResponse, user: AbstractBaseUser
    ) -> None:
        """After a successful login, give this browser a device cookie for ``user``."""
        device = self._trusted_device(request, user) or secrets.token_urlsafe(16)
        value = signing.dumps({"u": str(user.pk), "d": device}, salt=DEVICE_SALT)
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_MAX_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )

    def _has_verified_email(self, user: AbstractBaseUser) -> bool:
        """Whether the user has a verified address; asked only once the password is right."""
        verified = getattr(user, "useraccounts_verified", None)
        if verified is None:
            verified = EmailAddress.objects.filter(user_id=user.pk, verified=True).exists()
        return bool(verified)

    def get_auth_backend(self) -> str:
        """The backend recorded in the session of a user no backend authenticated (after
        signup, a reset, a confirmation): ``AccountBackend`` where it is listed, else
        ``ModelBackend`` where it is, else the first backend. Django reloads the user on
        each request through this backend, and only through one listed in the setting."""
        listed = django_auth.account_backend_path()
        if listed is not None:
            return listed
        paths = settings.AUTHENTICATION_BACKENDS
        return django_auth.MODEL_BACKEND if django_auth.MODEL_BACKEND in paths else paths[0]

    def _waiting_email(self, user: AbstractBaseUser) -> str:
        """The address an unverified account waits to confirm: its newest signup row,
        else its own email field."""
        waiting = newest_waiting(list(EmailAddress.objects.filter(user_id=user.pk)))
        if waiting is not None:
            return waiting.email
        return getattr(user, user.get_email_field_name(), "") or ""

    def _login_failed(
        self,
        request: HttpRequest | None,
        exc: Exception,
        username: str,
        user: AbstractBaseUser | None,
        *,
        django_told: bool = False,
    ) -> AuthenticationError:
        """Send Django's ``user_login_failed`` unless it was sent for this attempt, then
        ``user_authentication_failed``; return the error.

        Django's signal goes with every refusal the app signals (rate limited, inactive,
        unverified, a fault), not only the wrong credentials Django's ``authenticate()``
        reports itself (``django_told``), so django-axes and the like see each refused
        attempt once. Its credentials are shaped as ``authenticate()`` shapes them: the
        password's key, never its value.
        """
        if not django_told and not django_auth.sent_in_login_failed(exc):
            # After the refusal, like the app's failure signals: a receiver that raises
            # is logged and never changes the response.
            django_auth.send_login_failed(request, str(username), robust=True)
        return self._fail(
            request,
            exc,
            AuthenticationError,
            signals.user_authentication_failed,
            code_kwarg="reason",
            username=username,
            user=user,
        )

    def _start_session(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """``django.contrib.auth.login()``, recording the backend that accepted the user
        (``user.backend``, set by ``authenticate()``) or :meth:`get_auth_backend`.

        A session that has no key yet has no key an attacker could have planted, so there
        is nothing to rotate, and Django's ``cycle_key()`` would only save it now and
        again when the response goes out. Marked as already this user's, it is kept by
        ``login()``, which does the rest as for any session: any other session (one with
        a key) gets a new key, or is flushed if it was another user's.
        """
        session = request.session
        if session.session_key is None and SESSION_KEY not in session:
            session[SESSION_KEY] = user._meta.pk.value_to_string(user)
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        backend = getattr(user, "backend", None) or self.get_auth_backend()
        django_login(request, user, backend=backend)
