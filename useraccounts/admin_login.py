"""The Django admin's login page, behind the same login limits as the app's own.

Without it, an attacker who is refused on ``useraccounts:login`` guesses the same
passwords on ``/admin/login/``, which no limit watches. The app wraps the default admin
site's login view when it loads (``USERACCOUNTS_LIMIT_ADMIN_LOGIN = False`` turns the
limit off at run time; a project with its own ``AdminSite`` calls :func:`limit_login`
on it). Attempts count against the same account, IP and device allowances as the login
page, so whichever page an attacker uses, the account gets one allowance.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from . import ratelimit
from .conf import app_settings
from .exceptions import AccountError, RateLimited
from .manager import get_account_manager
from .views import rate_limited_response, unavailable_response


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
        typed = str(request.POST.get("username", ""))[:254]
        try:
            user = manager.find_user_for_login(typed)
            counted = manager.count_login_attempt(request, typed, user)
        except RateLimited as error:
            return rate_limited_response(request, error)
        except AccountError as error:  # the limiter's cache is down (limits fail closed)
            return unavailable_response(
                request, error, retry_after=getattr(error, "retry_after", 30)
            )
        response = view(request, extra_context)
        if request.user.is_authenticated:  # the password was right: not a guess
            ratelimit.refund(counted)
            manager.remember_device(request, response, request.user)
        return response

    login.useraccounts_limited = True  # type: ignore[attr-defined]
    site.login = login  # type: ignore[method-assign]
