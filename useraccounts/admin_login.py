"""The Django admin's login page, behind the same login limits as the app's own.

Without it, an attacker who is refused on ``useraccounts:login`` guesses the same
passwords on ``/admin/login/``, which no limit watches. The app wraps the default admin
site's login view when it loads (``USERACCOUNTS_LIMIT_ADMIN_LOGIN = False`` turns the
limit off at run time; a project with its own ``AdminSite`` calls :func:`limit_login`
on it). Attempts count against the same account, IP and device allowances as the login
page, so whichever page an attacker uses, the account gets one allowance. With
``AccountBackend`` listed, the admin's login finds accounts as the login page does, and
the backend checks the password of the account counted, without looking it up again.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from . import django_auth, ratelimit
from .conf import app_settings
from .error_views import rate_limited_response, unavailable_response
from .exceptions import AccountError, RateLimited
from .manager import get_account_manager


def limit_login(site: AdminSite) -> None:
    """Wrap ``site.login`` so that every POST is counted before its password is checked."""
    view: Callable[..., HttpResponse] = site.login
    if getattr(view, "useraccounts_limited", False):
        return

    @functools.wraps(view)
    def login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method != "POST" or not app_settings.LIMIT_ADMIN_LOGIN:
            return view(request, extra_context)
        manager = get_account_manager()
        # Cleaned as Django's AuthenticationForm cleans it (stripped, NFKC), so the
        # account counted is the one whose password the backends check: "bob" typed in
        # fullwidth letters must not be counted as an unknown login while the form
        # hands "bob" to authenticate(), past the account's allowance.
        raw = str(request.POST.get("username", ""))[:254]
        typed = unicodedata.normalize("NFKC", raw.strip())
        try:
            user = manager.find_user_for_login(typed)
            counted = manager.count_login_attempt(request, typed, user)
        except RateLimited as error:
            return rate_limited_response(request, error)
        except AccountError as error:  # the limiter's cache is down (limits fail closed)
            return unavailable_response(
                request, error, retry_after=getattr(error, "retry_after", 30)
            )
        with django_auth.looked_up(typed, user):  # AccountBackend reuses it: no second query
            response = view(request, extra_context)
        if request.user.is_authenticated:  # the password was right: not a guess
            ratelimit.refund(counted)
            manager.remember_device(request, response, request.user)
        return response

    login.useraccounts_limited = True  # type: ignore[attr-defined]
    site.login = login  # type: ignore[method-assign]
