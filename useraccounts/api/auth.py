"""The two kinds of API client, and which session each request is served with.

``browser``: the session cookie of ``SessionMiddleware`` and Django's CSRF token, as for
the HTML pages. Every unsafe request that may use the cookie session is CSRF-checked.

``app``: a session token, sent back in the ``X-Session-Token`` header. The token is the
key of a session in Django's own session store (``SESSION_ENGINE``), so everything that
ends a cookie session ends a token the same way: logout flushes it, a password change
moves the account's session hash on (Django's ``get_user()`` then flushes every other
session of the account), a deactivated account is refused by the backend's
``get_user()``. No cookie is read for the session, so there is nothing for another site
to ride on, and these requests are not CSRF-checked. A request that has no token yet
(to log in) says ``"client": "app"`` in its JSON body; the API only reads JSON bodies
sent as ``application/json``, which no other site can send without a CORS preflight.

Nothing here is middleware: :class:`ClientSession` is set up and finished by the API's
base view, for API views only, and puts the cookie session back before
``SessionMiddleware`` sees the response (so an app never gets a session cookie).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.functional import SimpleLazyObject

BROWSER, APP = "browser", "app"
CLIENT_KINDS = (BROWSER, APP)

#: The header an app sends its token in, and in which a response gives a new one.
TOKEN_HEADER = "X-Session-Token"  # noqa: S105 (a header name)
TOKEN_META_KEY = "HTTP_X_SESSION_TOKEN"  # noqa: S105 (a header name)

#: What a session key can look like in any of Django's session stores; anything else
#: (too long, NUL bytes, spaces) is no session, and is never looked up.
TOKEN_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def session_store_class() -> type[SessionBase]:
    """The ``SessionStore`` of ``SESSION_ENGINE``, the one cookie sessions live in."""
    return import_module(settings.SESSION_ENGINE).SessionStore


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, run by the API view, that returns the reason it refused
    instead of rendering Django's HTML 403 page, so the API answers in its own shape."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def csrf_refusal(request: HttpRequest) -> str | None:
    """Why Django's CSRF check refuses ``request``; None if it passes (or is a safe
    method, or the test client turned checks off)."""
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})


@dataclass
class ClientSession:
    """The session one API request is served with, and how to finish it."""

    kind: str
    #: The token the app sent (None: none, or a browser).
    sent_token: str | None = None
    #: ``SessionMiddleware``'s session, put back after the view (app requests only).
    cookie_session: Any = None
    swapped: bool = False

    @classmethod
    def start(cls, request: HttpRequest, declared: str | None) -> ClientSession:
        """Decide the kind and, for an app, serve the request from its token's session.

        A request with the token header is an app's, whatever else it says; so is one
        that declares ``"client": "app"`` (it has no token yet: the session starts
        empty). Any other request is a browser's.
        """
        if TOKEN_META_KEY not in request.META and declared != APP:
            return cls(BROWSER)
        sent = str(request.META.get(TOKEN_META_KEY, "")) or None
        key = sent if sent is not None and TOKEN_RE.fullmatch(sent) else None
        # An unknown or ended key loads as an empty session: the client is anonymous.
        store = session_store_class()(session_key=key)
        client = cls(APP, sent_token=sent, cookie_session=getattr(request, "session", None))
        request.session = store
        client.swapped = True
        # As AuthenticationMiddleware does for the cookie: lazily, through Django's own
        # get_user(), which checks the session's auth hash and the user's backend.
        request.user = SimpleLazyObject(lambda: get_user(request))
        return client

    def finish(self, request: HttpRequest, response: HttpResponse) -> str | None:
        """Save an app's session as ``SessionMiddleware`` would save a cookie's, and put
        the cookie session back; the new token, if the session's key changed (a login,
        or a password change, which moves the key on as it does a cookie's).

        A session the request made (a login) is saved only for a success; an existing
        one for anything but a server error, as the middleware does. Raises the
        store's error (a database fault) for the caller to answer.
        """
        if self.kind != APP or not self.swapped:
            return None
        store = request.session
        try:
            existing = store.session_key is not None
            save = store.modified or settings.SESSION_SAVE_EVERY_REQUEST
            ok = response.status_code < (500 if existing else 400)
            if save and ok and not store.is_empty():
                store.save()
            key = store.session_key
        finally:
            self.restore(request)
        if key is not None and key != self.sent_token and not store.is_empty():
            return key
        return None

    def restore(self, request: HttpRequest) -> None:
        """Put ``SessionMiddleware``'s session back, untouched by this request."""
        if not self.swapped:
            return
        self.swapped = False
        if self.cookie_session is None:
            del request.session
        else:
            request.session = self.cookie_session
