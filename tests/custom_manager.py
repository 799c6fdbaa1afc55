"""A project's own account manager, as a site would write one: each of the five documented
override points adds one small rule and calls ``super()``, so the app's own behaviour
still holds around it. ``tests/settings_custom_manager.py`` installs it for a whole run;
``tests/test_custom_manager.py`` installs it per test and shows what each rule does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse

from useraccounts.manager import AccountManager
from useraccounts.models import EmailAddress

#: Names a visitor could use to pass for the site's staff.
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "support", "webmaster"})
#: Throwaway-mail domains (and their subdomains) the site does not take signups from.
BLOCKED_DOMAINS = frozenset({"mailinator.com", "throwaway.example"})


class HookedManager(AccountManager):
    """The "Hookshop" site's manager."""

    site_name = "Hookshop"
    #: Every message this manager sent (its kind, recipient and user), oldest first: what
    #: the site would hand to its audit log. The message itself goes out as usual.
    outbox: list[dict[str, Any]] = []

    def validate_password(self, password: str, user: AbstractBaseUser | None = None) -> None:
        """``AUTH_PASSWORD_VALIDATORS``, and no password that names the site."""
        errors: list[ValidationError] = []
        try:
            super().validate_password(password, user)
        except ValidationError as exc:
            errors.extend(exc.error_list)
        if self.site_name.casefold() in password.casefold():
            errors.append(
                ValidationError(
                    f"Your password cannot contain the name of this site, {self.site_name}.",
                    code="password_names_site",
                )
            )
        if errors:
            raise ValidationError(errors)

    def clean_username(self, username: str) -> str:
        """The app's checks, and none of the reserved names, in any letter case."""
        username = super().clean_username(username)
        if username.casefold() in RESERVED_USERNAMES:
            raise ValidationError(
                f"The username “{username}” is reserved. Choose another one.",
                code="reserved",
            )
        return username

    def clean_email(self, email: str) -> str:
        """The app's checks, and no address at a blocked domain or one of its subdomains."""
        email = super().clean_email(email)
        domain = email.rpartition("@")[2]
        if any(domain == d or domain.endswith(f".{d}") for d in BLOCKED_DOMAINS):
            raise ValidationError(
                f"We do not accept addresses at {domain}. Use another email address.",
                code="blocked_domain",
            )
        return email

    def send_mail(
        self,
        request: HttpRequest | None,
        *,
        kind: str,
        to: str,
        context: dict[str, Any],
        user: Any = None,
    ) -> None:
        """Note the message in :attr:`outbox`, then send it the app's way."""
        self.outbox.append({"kind": kind, "to": to, "user": user})
        super().send_mail(request, kind=kind, to=to, context=context, user=user)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """A user who added an address that still waits for its confirmation lands on the
        email page, where they can confirm it or send a new link; everyone else, and a
        ``next`` the visitor asked for, as the app decides."""
        url = super().get_login_redirect_url(request)
        if url != resolve_url(settings.LOGIN_REDIRECT_URL):
            return url  # a safe ``next`` wins
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and EmailAddress.objects.filter(
                user_id=user.pk, primary=False, verified=False
            ).exists()
        ):
            return reverse("useraccounts:email")
        return url
