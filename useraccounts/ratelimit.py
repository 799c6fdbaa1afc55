"""Rate limits counted in Django's cache, so they hold across processes and servers
when the cache is shared (Redis, Memcached).

Each action has rates like ``"5/5m/key"``: at most 5 attempts per 5 minutes for one key.
A rate keeps one counter per fixed window and compares a sliding estimate, ``previous *
(1 - elapsed fraction of this window) + current``, since fixed windows alone let twice
the amount through within seconds around a window's end. It is an estimate: attempts
timed against it get at most ``2 * amount - 1`` through in one period, and the amount per
period in the long run. :func:`attempt` counts before the work it guards and compares the
value its own atomic ``incr`` returned: concurrent callers get distinct values, so however
many race, at most the amount get through.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from .conf import app_settings
from .exceptions import RateLimited, RateLimiterUnavailable

logger = logging.getLogger("useraccounts")

SCOPES = ("ip", "key", "user", "device")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_RE = re.compile(
    rf"^(?P<amount>\d+)/(?P<count>\d*)(?P<unit>[smhd])/(?P<scope>{'|'.join(SCOPES)})$"
)
#: Distinct malformed client addresses logged per process; no more (log flooding).
MAX_LOGGED_BAD_ADDRESSES = 1000
_logged_bad_addresses: set[str] = set()

Req: TypeAlias = HttpRequest | None
Key: TypeAlias = str | None  # a login or address typed, a device id
Pk: TypeAlias = object  # a user's primary key: int, UUID...
Counts: TypeAlias = dict[str, float]  # cache key: a count, or the time of a window's last attempt


@dataclass(frozen=True)
class Rate:
    amount: int
    period: int
    scope: str


@dataclass
class Attempt:
    """An attempt that :func:`attempt` counted: the window counters it incremented, so
    that :func:`refund` gives back this very attempt, even after its window has ended."""

    action: str
    keys: tuple[str, ...] = ()
    refunded: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class _Counter:
    rate: Rate
    base: str  # the cache key of this rate and subject, without the window
    now: float

    def key(self, back: int = 0, suffix: str = "") -> str:
        """The key of this window's count (back=1: the previous window's)."""
        return f"{self.base}:{int(self.now // self.rate.period) - back}{suffix}"

    @property
    def elapsed(self) -> float:
        """How much of the current window has passed, from 0 to 1."""
        return self.now % self.rate.period / self.rate.period


def parse_rates(action: str, spec: str) -> list[Rate]:
    """Parse one action's comma-separated rates, naming the setting when one is wrong."""
    rates = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = RATE_RE.match(part)
        if not match:
            raise ImproperlyConfigured(
                f"USERACCOUNTS_RATE_LIMITS[{action!r}] has {part!r}. Write rates as "
                '"<count>/<period>/<scope>", e.g. "5/5m/key" (units s, m, h, d; scopes '
                "ip, key, user, device)."
            )
        period = int(match["count"] or 1) * UNITS[match["unit"]]
        rates.append(Rate(int(match["amount"]), period, match["scope"]))
    return rates


def client_address(request: HttpRequest) -> str | None:
    """The client's address, validated: REMOTE_ADDR, or the one the trusted proxies saw.

    With ``USERACCOUNTS_TRUSTED_PROXY_COUNT = n``, the n-th address from the right of
    X-Forwarded-For is the one the outermost trusted proxy was connected from; anything
    further left was written by the client and is not trusted. A value that is no IP
    address falls back to REMOTE_ADDR and is logged: it must never become a limit's
    subject of its own, nor reach an IP address column. None when nothing is valid.
    """
    candidates = []
    if proxies := app_settings.TRUSTED_PROXY_COUNT:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            candidates.append(("X-Forwarded-For", forwarded[-proxies]))
    candidates.append(("REMOTE_ADDR", str(request.META.get("REMOTE_ADDR") or "")))
    for source, value in candidates:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            if value:
                _log_bad_address(source, value)
            continue
        if address.version == 6:  # unmapped, and without a zone (%eth0): no other host
            return str(address.ipv4_mapped or ipaddress.IPv6Address(int(address)))
        return str(address)
    return None


def client_ip(request: HttpRequest) -> str:
    """The subject of per-IP limits: an IPv4 address as is, an IPv6 client by its /64
    network (a subscriber usually holds a whole /64 and can use any address in it), or
    ``"unknown"`` when the request carries no valid address."""
    address = client_address(request)
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return address


def _log_bad_address(source: str, value: str) -> None:
    """Once per process per value: a client can send endless junk, a log should not."""
    shown = value[:64]
    if shown in _logged_bad_addresses or len(_logged_bad_addresses) >= MAX_LOGGED_BAD_ADDRESSES:
        return
    _logged_bad_addresses.add(shown)
    logger.warning("Ignoring a malformed client address in %s: %r", source, shown)


def _counters(action: str, request: Req, key: Key, user_id: Pk, device: Key) -> list[_Counter]:
    """The counters of the action's rates whose subject is known, in the window of now.
    Subjects are hashed: no address or login is stored in the cache in clear."""
    spec = app_settings.RATE_LIMITS.get(action)
    if not spec:
        return []
    now = time.time()  # one moment for all: the windows and the estimates agree
    subjects = {"key": key, "user": user_id, "device": device}
    subjects["ip"] = client_ip(request) if request is not None else None
    counters = []
    for rate in parse_rates(action, spec):
        if (subject := subjects[rate.scope]) is None:
            continue
        digest = hashlib.sha256(str(subject).encode("utf-8", "surrogatepass")).hexdigest()
        base = f"useraccounts:rl:{action}:{rate.scope}:{rate.period}:{digest[:32]}"
        counters.append(_Counter(rate, base, now))
    return counters


def _keys(counters: list[_Counter], *which: tuple[int, str]) -> list[str]:
    """The keys of ``(windows back, suffix)`` of each counter."""
    return [counter.key(back, suffix) for counter in counters for back, suffix in which]


def _estimate(counter: _Counter, counts: Counts, current: int) -> float:
    """The sliding estimate with ``current`` attempts in this window. A previous window
    whose last attempt is a full period old adds nothing: all of it is outside the period
    (so a burst is forgotten one period after it, wherever it fell in its window)."""
    rate, last = counter.rate, counts.get(counter.key(1, ":last"))
    if last is not None and last <= counter.now - rate.period:
        return float(current)
    return counts.get(counter.key(1), 0) * (1 - counter.elapsed) + current


def _retry_after(counter: _Counter, counts: Counts, current: int) -> int:
    """Seconds until the estimate lets one more attempt through; at least 1."""
    rate, previous = counter.rate, counts.get(counter.key(1), 0)
    start = counter.now - counter.elapsed * rate.period
    if rate.amount < 1:
        return rate.period
    if current < rate.amount:  # in this window, once the previous one weighs less
        at = start + rate.period * (1 - (rate.amount - current - 1) / max(previous, 1))
        last = counts.get(counter.key(1, ":last"))
    else:  # in the next window, where this one is the previous one
        at = start + rate.period * (2 - (rate.amount - 1) / current)
        last = counts.get(counter.key(0, ":last"))
    if last is not None:
        at = min(at, last + rate.period)
    return max(1, math.ceil(at - counter.now))


def _over(counter: _Counter, counts: Counts, current: int) -> int:
    """0 if ``current`` attempts fit in the rate, else the Retry-After of one more."""
    if _estimate(counter, counts, current) <= counter.rate.amount + 1e-9:
        return 0
    return _retry_after(counter, counts, current - 1)


def _increment(counter: _Counter) -> int:
    """Count one in this window's counter, atomically; the count after it. The counter
    lives two periods (it is read as the previous window) and a second."""
    cache.add(counter.key(), 0, timeout=2 * counter.rate.period + 1)
    return int(cache.incr(counter.key()))


def _mark_last(counters: list[_Counter]) -> None:
    """When each window last counted an attempt (see :func:`_estimate`)."""
    timeout = 2 * max(c.rate.period for c in counters) + 1
    cache.set_many({c.key(0, ":last"): c.now for c in counters}, timeout=timeout)


def _give_back(keys: Iterable[str]) -> None:
    """Decrement each counter, never below 0; one that expired or was cleared is gone."""
    for key in keys:
        try:
            value = cache.decr(key)
        except ValueError:
            continue
        if value < 0:  # cleared and counted again since: this attempt is not in it
            cache.incr(key, -value)


def _cache_failed(action: str, exc: Exception, *, loosening: bool = False) -> None:
    """Fail closed (raise) unless ``USERACCOUNTS_RATE_LIMITS_FAIL_OPEN``: then log and go
    on uncounted. What only loosens a limit (a refund, a clear) always just logs: left
    undone, the count stays high, which is strict, and the work already done stands.
    Only the error is logged, never a subject (an address, a login)."""
    if not (loosening or app_settings.RATE_LIMITS_FAIL_OPEN):
        raise RateLimiterUnavailable() from exc
    logger.warning("Rate limits of %r: the cache failed: %s: %s", action, type(exc).__name__, exc)


def attempt(
    action: str, request: Req = None, *, key: Key = None, user_id: Pk = None, device: Key = None
) -> Attempt:
    """Count this attempt before the work it guards; if that takes any of the action's
    rates over its amount, give the count back and raise ``RateLimited``."""
    if not (counters := _counters(action, request, key, user_id, device)):
        return Attempt(action)
    done: list[str] = []
    retry_after = 0
    try:
        counts = cache.get_many(_keys(counters, (1, ""), (1, ":last"), (0, ":last")))
        for counter in counters:
            value = _increment(counter)  # this caller's own value: no one else's
            done.append(counter.key())
            retry_after = max(retry_after, _over(counter, counts, value))
        if not retry_after:
            _mark_last(counters)
    except Exception as exc:
        with contextlib.suppress(Exception):  # the same fault, handled just below
            _give_back(done)
        _cache_failed(action, exc)
        return Attempt(action)
    if retry_after:
        with contextlib.suppress(Exception):  # a count left high is strict, never lax
            _give_back(done)
        raise RateLimited(retry_after)
    return Attempt(action, tuple(done))


#: The former name of :func:`attempt`, kept for existing callers.
consume = attempt


def refund(counted: Attempt) -> None:
    """Give back an attempt that turned out well (a successful login); once only."""
    if counted.refunded or not counted.keys:
        return
    counted.refunded = True
    try:
        _give_back(counted.keys)
    except Exception as exc:
        _cache_failed(counted.action, exc, loosening=True)


def check(
    action: str, request: Req = None, *, key: Key = None, user_id: Pk = None, device: Key = None
) -> None:
    """Raise ``RateLimited`` if one more attempt would go over a rate; count nothing.
    Read-only, so concurrent callers all pass it: guard work with :func:`attempt`."""
    if not (counters := _counters(action, request, key, user_id, device)):
        return
    try:
        counts = cache.get_many(_keys(counters, (0, ""), (1, ""), (1, ":last"), (0, ":last")))
    except Exception as exc:
        _cache_failed(action, exc)
        return
    if retry_after := max(_over(c, counts, counts.get(c.key(), 0) + 1) for c in counters):
        raise RateLimited(retry_after)


def hit(
    action: str, request: Req = None, *, key: Key = None, user_id: Pk = None, device: Key = None
) -> None:
    """Count one attempt without comparing: a failure known only after the work."""
    if not (counters := _counters(action, request, key, user_id, device)):
        return
    try:
        for counter in counters:
            _increment(counter)
        _mark_last(counters)
    except Exception as exc:
        _cache_failed(action, exc)


def clear(action: str, *, key: Key = None, user_id: Pk = None, device: Key = None) -> None:
    """Forget the counts of a key, user or device (a password reset proved the owner).
    Never the per-IP ones: they count the attacker, whichever accounts it tried."""
    counters = _counters(action, None, key, user_id, device)
    keys = _keys(counters, (0, ""), (1, ""), (0, ":last"), (1, ":last"))
    try:
        if keys:
            cache.delete_many(keys)
    except Exception as exc:
        _cache_failed(action, exc, loosening=True)
