"""Finding the account a login names, in one indexed query."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as django_login
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import OuterRef
from django.http import HttpRequest

from . import signals
from .conf import app_settings
from .models import EmailAddress, normalize_email, verified_exists
from .users import has_username, username_field_name


class LoginMixin:
    """The lookups behind ``authenticate_user`` and ``login_user``."""

    def find_user_for_login(self, login: str) -> AbstractBaseUser | None:
        """The user (active or not) that ``login`` names, by the enabled login methods.

        Each lookup is one indexed query that also tells, as ``useraccounts_verified``,
        whether the user has a verified address.
        """
        methods = app_settings.LOGIN_METHODS if has_username() else {"email"}
        login = login.strip()
        if "email" in methods and "@" in login:
            address = EmailAddress.objects.for_login(login).first()
            if address is not None:
                address.user.useraccounts_verified = address.user_verified
                return address.user
        if "username" in methods or not has_username():
            # Without a username field, the user model's own (unique) email is the login,
            # which finds users whose addresses the app has not recorded yet.
            value = login if has_username() else normalize_email(login)
            return (
                get_user_model()
                ._default_manager.annotate(useraccounts_verified=verified_exists(OuterRef("pk")))
                .filter(**{username_field_name(): value})
                .first()
            )
        return None

    def has_verified_email(self, user: AbstractBaseUser) -> bool:
        """Whether the user has a verified address (from the login query when it can)."""
        verified = getattr(user, "useraccounts_verified", None)
        if verified is None:
            verified = EmailAddress.objects.filter(user=user, verified=True).exists()
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
        with transaction.atomic():
            django_login(request, user, backend=self.get_auth_backend())
            # Without "remember", the cookie ends with the browser session.
            request.session.set_expiry(settings.SESSION_COOKIE_AGE if remember else 0)
            self._send(signals.user_logged_in, request, user=user)
