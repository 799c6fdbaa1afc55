"""The app's login inside Django's authentication: ``authenticate()`` with
``AccountBackend`` standing in for ``ModelBackend`` where a site keeps Django's default
setting, the lookup the manager shares with the backend (counted against the limits
before the password is checked, then checked without a second query), and Django's
``user_login_failed`` sent once per refused login.

The backend itself is in :mod:`useraccounts.backends` and is loaded by its path, as
Django loads every backend, so this module imports neither it nor the manager.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNT_BACKEND = "useraccounts.backends.AccountBackend"
#: What Django's ``authenticate()`` puts in ``user_login_failed``'s credentials in place
#: of a password (``django.contrib.auth._clean_credentials``): the key stays, the value
#: never leaves.
CLEANSED = "********************"


@dataclass
class LoginLookup:
    """The account a typed login names, looked up once, and why ``AccountBackend``
    refused it (``user_not_found``, ``incorrect_password``, ``user_inactive``; None if it
    did not refuse or did not run), for the caller that must tell the reasons apart."""

    login: str
    user: AbstractBaseUser | None
    refusal: str | None = None


_current_lookup: ContextVar[LoginLookup | None] = ContextVar(
    "useraccounts_login_lookup", default=None
)


@contextmanager
def looked_up(login: str, user: AbstractBaseUser | None) -> Iterator[LoginLookup]:
    """Within the block, ``AccountBackend`` reuses this lookup of ``login``.

    Why: the login limits count an attempt against the account *before* its password is
    checked, so the account is looked up first; the backend then checks the password of
    that very account (the one the attempt was counted against) without a second query.
    A context variable, not the request, carries it, so code that passes no request gets
    the same single query, and nothing of it outlives the block.
    """
    lookup = LoginLookup(login, user)
    token = _current_lookup.set(lookup)
    try:
        yield lookup
    finally:
        _current_lookup.reset(token)


def current_lookup() -> LoginLookup | None:
    """The lookup :func:`looked_up` made for the login being checked, if any."""
    return _current_lookup.get()


def _backend_class(path: str) -> type | None:
    try:
        backend = import_string(path)
    except ImportError:
        return None  # Django names the bad path when it loads the backends
    return backend if isinstance(backend, type) else None


def account_backend_path() -> str | None:
    """The first entry of ``AUTHENTICATION_BACKENDS`` that is an ``AccountBackend``."""
    for path in settings.AUTHENTICATION_BACKENDS:
        backend = _backend_class(path)
        if backend is not None and issubclass(backend, import_string(ACCOUNT_BACKEND)):
            return path
    return None


def runs_model_backend_authenticate(path: str) -> bool:
    """Whether the backend at ``path`` authenticates with ``ModelBackend``'s own method
    (``ModelBackend`` itself, ``AllowAllUsersModelBackend``): beside ``AccountBackend``
    it looks the login up and hashes again. ``RemoteUserBackend`` and ``AccountBackend``
    do not: they override ``authenticate``."""
    backend = _backend_class(path)
    return (
        backend is not None
        and issubclass(backend, ModelBackend)
        and backend.authenticate is ModelBackend.authenticate
    )


def send_login_failed(request: HttpRequest | None, username: str, *, robust: bool) -> None:
    """Send Django's ``user_login_failed`` as its ``authenticate()`` sends it for the
    app's call: the same sender, and credentials with the password's key, never its
    value. ``robust``: a receiver's exception is logged instead of raised."""
    send = user_login_failed.send_robust if robust else user_login_failed.send
    send(
        sender=django_authenticate.__module__,
        credentials={"username": username, "password": CLEANSED},
        request=request,
    )


def sent_in_login_failed(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a receiver of Django's ``user_login_failed``, so
    the signal was sent, and must not be sent again for the same attempt."""
    send = Signal.send.__code__
    return any(
        frame.f_code is send and frame.f_locals.get("self") is user_login_failed
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )


@sensitive_variables("password", "credentials")
def authenticate(
    request: HttpRequest | None, *, username: str, password: str
) -> AbstractBaseUser | None:
    """``django.contrib.auth.authenticate()``, with ``AccountBackend`` in place of
    ``ModelBackend`` where ``AUTHENTICATION_BACKENDS`` lists ``ModelBackend`` and no
    ``AccountBackend`` (Django's default); returns None only after ``user_login_failed``
    was sent.

    Why a stand-in rather than ``ModelBackend``: it would look the login up by
    ``USERNAME_FIELD`` alone, in exact case, and hash once more. The stand-in runs
    through Django's own steps: each backend in order, the first that accepts wins
    (``user.backend`` is its path), ``PermissionDenied`` stops, and when every backend
    refuses, ``user_login_failed`` is sent as Django sends it. ``user.backend`` is then
    ``ModelBackend``'s path: Django reloads a session's user only through a listed
    backend, and ``AccountBackend.get_user`` is ``ModelBackend``'s.
    """
    paths = list(settings.AUTHENTICATION_BACKENDS)
    if MODEL_BACKEND not in paths or account_backend_path() is not None:
        return django_authenticate(request, username=username, password=password)
    credentials = {"username": username, "password": password}
    for path in paths:
        backend = load_backend(ACCOUNT_BACKEND if path == MODEL_BACKEND else path)
        try:
            inspect.signature(backend.authenticate).bind(request, **credentials)
        except TypeError:
            continue  # this backend takes other credentials
        try:
            user = backend.authenticate(request, **credentials)
        except PermissionDenied:
            break  # this backend says nobody may log in with these
        if user is None:
            continue
        user.backend = path
        return user
    send_login_failed(request, username, robust=False)  # as Django's own: it may raise
    return None
