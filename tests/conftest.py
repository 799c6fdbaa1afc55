"""Fixtures shared by the whole suite.

``signals`` records every signal of ``useraccounts.signals`` with its kwargs through a
real receiver, the way a project's app would see them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.dispatch import Signal

from tests.hashers import HashCounter
from useraccounts import signals as ua_signals
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytest_plugins = ["tests.failure_codes", "tests.api_codes"]  # every documented code is sent

PASSWORD = "correct horse battery staple"
ALL_SIGNALS = {
    name: value for name, value in vars(ua_signals).items() if isinstance(value, Signal)
}

needs_username = pytest.mark.skipif(
    "not __import__('useraccounts.users').users.has_username()",
    reason="the user model has no username field",
)


@dataclass
class SignalLog:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _kwargs in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for event, kwargs in self.events if event == name]

    def one(self, name: str) -> dict[str, Any]:
        """The kwargs of the only time ``name`` was sent; fails if it was not sent once."""
        sent = self.of(name)
        assert len(sent) == 1, f"{name} was sent {len(sent)} times: {self.names()}"
        return sent[0]

    def assert_once(self, name: str, *, request: Any = True, **expected: Any) -> dict[str, Any]:
        """``name`` was sent once with exactly these kwargs (besides ``request``).

        ``request=True`` (the default) means "an HttpRequest", ``None`` means none. An
        expected value that is a type matches any instance of it.
        """
        kwargs = self.one(name)
        assert set(kwargs) == {"request", *expected}, (name, sorted(kwargs))
        if request is True:
            assert kwargs["request"] is not None and hasattr(kwargs["request"], "META"), name
        else:
            assert kwargs["request"] is request, name
        for key, value in expected.items():
            if isinstance(value, type):
                assert isinstance(kwargs[key], value), (name, key, kwargs[key])
            else:
                assert kwargs[key] == value, (name, key, kwargs[key], value)
        return kwargs

    def clear(self) -> None:
        self.events.clear()

    def assert_no_secret(self, *secrets: str) -> None:
        """No kwarg of any signal holds one of ``secrets``, however formatted.

        ``request`` is left out: it is the HttpRequest itself (its path is the link).
        """
        for name, kwargs in self.events:
            for key, value in kwargs.items():
                if key == "request":
                    continue
                text = repr(value) + str(getattr(value, "__dict__", ""))
                for secret in secrets:
                    assert secret not in text, f"{name}.{key} carries a secret"


@pytest.fixture
def signals():
    log = SignalLog()
    receivers = []
    for name, signal in ALL_SIGNALS.items():

        def receiver(sender, _name=name, **kwargs):
            assert sender is get_user_model()
            kwargs.pop("signal")
            log.events.append((_name, kwargs))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield log
    for signal, receiver in receivers:
        signal.disconnect(receiver)


@pytest.fixture
def failing_receiver():
    """Connect to ``signal`` a receiver that fails: ``"raise"`` a RuntimeError, or
    ``"sql"`` a real database error (a query on a table that does not exist)."""
    connected = []

    def connect(signal, kind):
        def receiver(**kwargs):
            if kind == "raise":
                raise RuntimeError("receiver bug")
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM useraccounts_no_such_table")

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))

    yield connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.fixture
def logged_in(client, account):
    client.force_login(account)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hash_count():
    """Reads how many password hashes ran since the fixture started."""
    start = HashCounter.count
    return lambda: HashCounter.count - start


class Clock:
    """``time.time`` moved by hand: tokens and rate limits see the moved time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def create_account(
    username: str = "bob",
    email: str = "bob@example.com",
    *,
    password: str = PASSWORD,
    verified: bool = True,
    is_active: bool = True,
):
    """An account as signup and confirmation would leave it, made directly."""
    User = get_user_model()
    fields = {"email": email, "is_active": is_active}
    if has_username():
        fields[User.USERNAME_FIELD] = username
    user = User(**fields)
    user.set_password(password)
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    return user


def user_table() -> str:
    """The user model's table, as a fault pattern names it."""
    return get_user_model()._meta.db_table


def login_name(user) -> str:
    """What a person types to log in: the username where the model has one."""
    return user.get_username()


def link_in(message) -> str:
    """The one absolute link of an email (text body)."""
    links = re.findall(r"https?://\S+", message.body)
    assert len(links) == 1, links
    return links[0]


@pytest.fixture
def account(db):
    return create_account()


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"database: {db['ENGINE'].rsplit('.', 1)[1]}, user model: {settings.AUTH_USER_MODEL}"


CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
UNSEEN_HEADERS = ("Set-Cookie", "Expires", "Content-Length")


def visible(responses, *, typed: str = "") -> list:
    """What a visitor can tell apart in responses: status, headers and body, without the
    CSRF token (new for every page), the Expires time (this very second) and what the
    visitor typed (``typed``, echoed back into a form)."""
    seen = []
    for response in responses:
        body = CSRF_INPUT.sub(b"", response.content)
        if typed:
            body = body.replace(typed.encode(), b"<typed>")
        headers = sorted(
            (k, v)
            for k, v in response.items()
            if k not in ("Set-Cookie", "Expires", "Content-Length")
        )
        seen.append((response.status_code, headers, body))
    return seen


class Faults:
    """Real faults of the infrastructure, each a context manager (no mock of the app):

    - ``database(pattern)``: every query whose SQL matches ``pattern`` (a regular
      expression, any letter case) fails with ``django.db.OperationalError``, raised at
      the point where the database driver raises it; the context yields the failed SQL.
      ``WRITES`` (the default) matches every INSERT, UPDATE and DELETE; ``"."`` every
      query, as when the database is down.
    - ``cache()``: the default cache (the rate limiter's) is a Redis server nobody
      listens on.
    - ``email()``: the email backend is down (``tests.backends.FailingEmailBackend``).
    """

    WRITES = r"^\s*(INSERT|UPDATE|DELETE)\b"
    UNREACHABLE_CACHE = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    def database(self, pattern: str = WRITES):
        from contextlib import contextmanager

        from django.db import OperationalError

        regex = re.compile(pattern, re.IGNORECASE)

        def refuse(execute, sql, params, many, context):
            if regex.search(sql):
                failed.append(sql)
                raise OperationalError(f"injected fault: the database refused {sql[:40]!r}")
            return execute(sql, params, many, context)

        @contextmanager
        def failing():
            with connection.execute_wrapper(refuse):
                yield failed

        failed: list[str] = []
        return failing()

    def cache(self):
        from django.test import override_settings

        return override_settings(CACHES=self.UNREACHABLE_CACHE)

    def email(self):
        from django.test import override_settings

        return override_settings(EMAIL_BACKEND="tests.backends.FailingEmailBackend")


@pytest.fixture
def faults():
    return Faults()
