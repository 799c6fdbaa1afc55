"""The app's error pages: 429 for a rate limit and 503 for an outage (the database, the
cache or the email backend), shared by its views, the admin login and ``handler500``,
so every refusal of the same kind looks and answers alike."""

from __future__ import annotations

import logging
import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import resolve
from django.utils.translation import gettext_lazy as _
from django.views import defaults

from .api.errors import account_error_response
from .exceptions import AccountError, RateLimited

logger = logging.getLogger("useraccounts")

#: The app namespace of the JSON API's URLs (``useraccounts.api.urls``), whatever the
#: instance namespace a site includes them under.
API_APP_NAME = "useraccounts_api"


def unavailable_response(
    request: HttpRequest,
    error: AccountError,
    *,
    message: str | None = None,
    onward: tuple[str, str] | None = None,
    template_name: str = "useraccounts/unavailable.html",
    retry_after: int = 30,
) -> HttpResponse:
    """The one 503 page for a fault of the database, the cache or the email backend:
    what happened, to try again in ``retry_after`` seconds, and a way onward
    (``onward``: a URL and its label; by default the same page again)."""
    url, label = onward or (request.get_full_path(), _("Try again"))
    context = {"error": error, "message": message or error.message, "onward": (url, label)}
    response = render(request, template_name, context, status=503)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited_response(
    request: HttpRequest,
    error: RateLimited,
    template_name: str = "useraccounts/rate_limited.html",
) -> HttpResponse:
    """The one 429 page: how long to wait, in words and in ``Retry-After``."""
    response = render(request, template_name, {"error": error}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a service is down rather than a bug: the database's, the
    operating system's (sockets, SMTP) and, where installed, Redis's."""
    errors: tuple[type[BaseException], ...] = (DatabaseError, OSError)
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return errors
    return (*errors, RedisConnectionError, RedisTimeoutError)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """A ``handler500`` that answers an outage with the 503 page instead of a 500.

    The app's views answer their own faults with 503. A few writes happen after a view
    has answered, in Django's own code: ``SessionMiddleware`` saves the session (a new
    visitor's, or the reset token moved into it) on the way out, and a database fault
    there reaches only ``handler500``. Set ``handler500 = "useraccounts.error_views.server_error"``
    in the root URLconf so that such a fault, on any page of the site, tells the visitor
    to try again in a moment and tells monitoring it is an outage, not a bug. Any other
    exception gets Django's own 500 page. Django calls this while the exception is being
    handled, so ``sys.exc_info()`` names it; the log line records it with its traceback.
    A request for the JSON API (:func:`is_api_request`) gets the API's own 503, in its
    error shape with ``Retry-After``, as its views answer their own faults.
    """
    if isinstance(sys.exc_info()[1], infrastructure_errors()):
        error = AccountError(code="repository_error")
        try:
            if is_api_request(request):
                return account_error_response(error)
            return unavailable_response(request, error)
        except Exception:  # the 503 page itself failed (a template's context processor)
            logger.exception("The 503 page failed; answering with the plain 500 page")
    return defaults.server_error(request, template_name)


def is_api_request(request: HttpRequest) -> bool:
    """Whether ``request`` was for a URL of the JSON API: the URL Django resolved, or,
    where it got no further (a middleware failed first), the request's path resolved
    now. A path nothing resolves, or a URLconf that fails, is no API request."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Exception:  # Resolver404, or the URLconf itself broken: answer as HTML
            return False
    return API_APP_NAME in match.app_names
