"""Finding the account a login names, in one indexed query."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth import login as django_login
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in as django_user_logged_in
from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from . import signals
from .conf import app_settings
from .models import EmailAddress, normalize_email, one_or_none
from .users import has_username, username_field_name


class LoginMixin:
    """The lookups behind ``authenticate_user`` and ``login_user``."""

    def find_user_for_login(self, login: str) -> AbstractBaseUser | None:
        """The user (active or not) that ``login`` names, by the enabled login methods,
        in one indexed query (two for an address that is not found)."""
        methods = app_settings.LOGIN_METHODS if has_username() else {"email"}
        login = login.strip()
        if "email" in methods and "@" in login:
            address = EmailAddress.objects.login_address(login)
            if address is not None:
                if address.verified:  # spares has_verified_email() a query
                    address.user.useraccounts_verified = True
                return address.user
        if "username" in methods or not has_username():
            # Without a username field, the user model's own (unique) email is the login,
            # which finds users whose addresses the app has not recorded yet.
            value = login if has_username() else normalize_email(login)
            return one_or_none(
                get_user_model()._default_manager.filter(**{username_field_name(): value})
            )
        return None

    def has_verified_email(self, user: AbstractBaseUser) -> bool:
        """Whether the user has a verified address; asked only once the password is right."""
        verified = getattr(user, "useraccounts_verified", None)
        if verified is None:
            verified = EmailAddress.objects.filter(user_id=user.pk, verified=True).exists()
        return bool(verified)

    def get_auth_backend(self) -> str:
        """The backend recorded in the session (it reloads the user on each request)."""
        backends = settings.AUTHENTICATION_BACKENDS
        model_backend = "django.contrib.auth.backends.ModelBackend"
        return model_backend if model_backend in backends else backends[0]

    def login_user(
        self, request: HttpRequest, user: AbstractBaseUser, *, remember: bool = False
    ) -> None:
        """Start the user's session under a new key and send ``user_logged_in``."""
        with self._transaction_for(signals.user_logged_in):
            self._start_session(request, user)
            # Without "remember", the cookie ends with the browser session.
            request.session.set_expiry(settings.SESSION_COOKIE_AGE if remember else 0)
            self._send(signals.user_logged_in, request, user=user)

    def _start_session(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """``django.contrib.auth.login()``, without its first write for a new visitor.

        A session that has no key yet has no key an attacker could have planted, so
        there is nothing to rotate: Django's ``cycle_key()`` would only save it now and
        again when the response goes out. Any other session goes through Django's own
        ``login()``, which rotates the key.
        """
        session = request.session
        if session.session_key is not None or SESSION_KEY in session:
            django_login(request, user, backend=self.get_auth_backend())
            return
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = self.get_auth_backend()
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        request.user = user
        rotate_token(request)
        django_user_logged_in.send(sender=user.__class__, request=request, user=user)
