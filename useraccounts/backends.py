"""``AccountBackend``: Django's authentication, finding the account the app's way.

Why a backend: ``django.contrib.auth.authenticate()`` is where a Django site decides who
may log in. Going through it lets every backend in ``AUTHENTICATION_BACKENDS`` (LDAP,
SSO, a project's own) take part in a login on the app's page, sends Django's
``user_login_failed`` (django-axes and other tools listen for it), and lets Django's own
login paths (the admin's login page, ``AuthenticationForm``) find an account the way the
app does: by the enabled login methods, a username in any letter case or a verified
address, at the cost of one indexed query and exactly one password hash.

Set ``AUTHENTICATION_BACKENDS = ["useraccounts.backends.AccountBackend"]``. Where a site
keeps Django's default (``ModelBackend`` alone, or beside other backends), the account
manager stands ``AccountBackend`` in for ``ModelBackend`` on the app's own login page
(:func:`useraccounts.django_auth.authenticate`), so nothing else is required at install.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from .django_auth import LoginLookup, current_lookup
from .manager import get_account_manager
from .operations import PasswordError


class AccountBackend(ModelBackend):
    """``ModelBackend`` (so permissions and ``get_user`` work as Django's), that finds the
    account by the app's login methods and checks its password through the account
    manager: one indexed query, exactly one hash, ``user_password_checked`` sent.

    It accepts what Django's ``AuthenticationForm`` and the admin pass (``username=``)
    and the ``USERNAME_FIELD`` keyword (``email=`` where the email is the login). It
    refuses an inactive account after a right password, as ``ModelBackend`` does; whether
    the address must be verified is the manager's rule (``authenticate_user``), applied
    on the app's login page to whichever backend accepted the login.
    """

    @sensitive_variables("password")
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        manager = get_account_manager()
        login = str(username)
        lookup = current_lookup()
        # The lookup looks past surrounding spaces (find_user_for_login strips them), so a
        # login that differs only there names the same account and may reuse it.
        if lookup is None or lookup.login.strip() != login.strip():
            lookup = LoginLookup(login, manager.find_user_for_login(login))
        user = lookup.user
        if user is None:
            # An unknown login costs the same one hash as a known one, so the response
            # time does not tell who has an account.
            manager._dummy_hash(password)
            lookup.refusal = "user_not_found"
            return None
        try:
            correct = manager._check_password(request, user, password)
        except PasswordError as exc:
            # The hasher failed: say so (user_password_check_failed), and let the fault
            # itself reach the caller, as ModelBackend would let it.
            manager._send_robust(exc.signal, request, user=exc.user, exception=exc.cause)
            raise exc.cause from None
        if not correct:
            lookup.refusal = "incorrect_password"
            return None
        # Only after the right password: an inactive account is told apart from a wrong
        # password only to whoever proved they hold it.
        if not self.user_can_authenticate(user):
            lookup.refusal = "user_inactive"
            return None
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        """:meth:`authenticate` for Django's ``aauthenticate()``: ``ModelBackend``'s own
        would look the login up its way (``USERNAME_FIELD`` alone) and hash again."""
        # sync_to_async copies the context, so a lookup made by the caller is reused.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
