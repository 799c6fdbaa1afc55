"""Rate limits counted in Django's cache, so they hold across processes and servers
when the cache is shared (Redis, Memcached).

Each action has rates like ``"5/5m/key"``: at most 5 hits per 5-minute window for one
key. Counters are fixed windows incremented with the cache's atomic ``incr``.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from .conf import app_settings
from .exceptions import RateLimited

SCOPES = ("ip", "key", "user")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_RE = re.compile(r"^(?P<amount>\d+)/(?P<count>\d*)(?P<unit>[smhd])/(?P<scope>ip|key|user)$")


@dataclass(frozen=True)
class Rate:
    amount: int
    period: int
    scope: str


def parse_rates(action: str, spec: str) -> list[Rate]:
    """Parse one action's comma-separated rates, naming the setting when one is wrong."""
    rates = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = RATE_RE.match(part)
        if not match:
            raise ImproperlyConfigured(
                f"USERACCOUNTS_RATE_LIMITS[{action!r}] has {part!r}. Write rates as "
                '"<count>/<period>/<scope>", e.g. "5/5m/key" (units s, m, h, d; scopes '
                "ip, key, user)."
            )
        period = int(match["count"] or 1) * UNITS[match["unit"]]
        rates.append(Rate(int(match["amount"]), period, match["scope"]))
    return rates


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one the trusted proxies saw.

    With ``USERACCOUNTS_TRUSTED_PROXY_COUNT = n``, the n-th address from the right of
    X-Forwarded-For is the one the outermost trusted proxy was connected from; anything
    further left was written by the client and is not trusted.
    """
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _subjects(request: HttpRequest | None, key: str | None, user_id: object) -> dict:
    return {
        "ip": client_ip(request) if request is not None else None,
        "key": key,
        "user": None if user_id is None else str(user_id),
    }


def _cache_keys(action: str, request, key, user_id) -> list[tuple[str, Rate]]:
    spec = app_settings.RATE_LIMITS.get(action)
    if not spec:
        return []
    subjects = _subjects(request, key, user_id)
    now = time.time()
    keys = []
    for rate in parse_rates(action, spec):
        subject = subjects[rate.scope]
        if subject is None:
            continue
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        window = int(now // rate.period)
        keys.append(
            (f"useraccounts:rl:{action}:{rate.scope}:{rate.period}:{digest}:{window}", rate)
        )
    return keys


def _retry_after(rate: Rate) -> int:
    return max(1, int(rate.period - time.time() % rate.period))


def check(action: str, request=None, *, key: str | None = None, user_id=None) -> None:
    """Raise ``RateLimited`` if any of the action's rates is used up; count nothing."""
    entries = _cache_keys(action, request, key, user_id)
    counts = cache.get_many([k for k, _rate in entries]) if entries else {}
    for cache_key, rate in entries:
        if counts.get(cache_key, 0) >= rate.amount:
            raise RateLimited(_retry_after(rate))


def hit(action: str, request=None, *, key: str | None = None, user_id=None) -> None:
    """Count one attempt against each of the action's rates."""
    for cache_key, rate in _cache_keys(action, request, key, user_id):
        cache.add(cache_key, 0, timeout=rate.period + 1)
        try:
            cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=rate.period + 1)


def consume(action: str, request=None, *, key: str | None = None, user_id=None) -> None:
    """Check, then count this attempt: for actions where every attempt counts."""
    check(action, request, key=key, user_id=user_id)
    hit(action, request, key=key, user_id=user_id)
