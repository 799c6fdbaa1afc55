"""The rate limiter itself, against the real cache of the test settings (and a real,
unreachable Redis for cache faults): sliding counts, attempts counted before the work,
refunds, clears, client addresses and what happens when the cache is down."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings

from useraccounts import ratelimit
from useraccounts.conf import app_settings
from useraccounts.exceptions import RateLimited, RateLimiterUnavailable
from useraccounts.ratelimit import attempt, check, clear, client_address, client_ip, hit, refund

PERIOD = 300


def allowed(action: str = "login_failed", request=None, **subjects) -> bool:
    """Whether one attempt gets through (it is counted if so)."""
    try:
        attempt(action, request, **subjects)
    except RateLimited:
        return False
    return True


def to_boundary(clock, before: float = 1.0, period: int = PERIOD) -> None:
    """Move the clock to ``before`` seconds before the next window starts."""
    clock.advance(period - time.time() % period - before)


def request_from(address: str, forwarded: str | None = None):
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().post("/", REMOTE_ADDR=address, **extra)


@pytest.fixture
def limit(settings):
    def set_limit(spec: str, action: str = "login_failed") -> None:
        settings.USERACCOUNTS_RATE_LIMITS = {action: spec}

    return set_limit


# --- the sliding count -----------------------------------------------------------------


def test_ten_failures_straddling_a_window_boundary_let_five_through(clock, limit):
    limit("5/5m/key")
    to_boundary(clock, before=1)
    first = [allowed(key="victim") for _ in range(5)]
    clock.advance(2)  # a new fixed window: fixed windows let 5 more through here
    with pytest.raises(RateLimited) as refused:
        attempt("login_failed", key="victim")
    second = [allowed(key="victim") for _ in range(4)]
    assert first == [True] * 5
    assert second == [False] * 4
    # The 5 before the boundary weigh 5 * (1 - elapsed/300): one more fits once that is
    # 4, 60 s into the window; 59 s from now, as Retry-After says.
    assert refused.value.retry_after in (59, 60)
    clock.advance(refused.value.retry_after - 1.5)
    assert not allowed(key="victim")
    clock.advance(1.5)
    assert allowed(key="victim")
    assert not allowed(key="victim")


@pytest.mark.parametrize("before", [1, 100, 200])
def test_an_attacker_hammering_gets_no_burst_at_a_boundary(clock, limit, before):
    limit("5/5m/key")
    to_boundary(clock, before=before)
    times = []
    for _ in range(6 * PERIOD):
        while allowed(key="victim"):  # as many as get through, every second
            times.append(time.time())
        clock.advance(1)

    def most_within(seconds: float) -> int:
        return max(sum(1 for t in times if start <= t < start + seconds) for start in times)

    # Fixed windows let 10 through in 2 s (5 each side of a boundary). The estimate lets
    # 5 at most in any 2 s, 5 * (1 + 60 / 300) = 6 in any minute, and never more than
    # 2 * 5 - 1 in one period (a burst at the end of a window, then one attempt for each
    # fifth of the next window that has passed); about 5 per period in the long run.
    assert most_within(2) == 5
    assert most_within(60) <= 6
    assert most_within(PERIOD) <= 9
    assert len(times) <= 5 * 7


def test_a_burst_is_forgotten_one_period_after_its_last_attempt(clock, limit):
    limit("5/5m/key")
    for _ in range(5):
        attempt("login_failed", key="victim")
    with pytest.raises(RateLimited) as refused:
        check("login_failed", key="victim")
    assert 0 < refused.value.retry_after <= PERIOD
    clock.advance(refused.value.retry_after)
    assert allowed(key="victim")
    clock.advance(PERIOD)
    assert [allowed(key="victim") for _ in range(6)] == [True] * 5 + [False]


@pytest.mark.parametrize("phase", [0.5, 30, 59, 61, 150, 240, 299.5])
def test_retry_after_is_when_the_next_attempt_fits(clock, limit, phase):
    limit("5/5m/key,3/m/device")
    to_boundary(clock, before=PERIOD - phase)
    for n in range(12):
        try:
            attempt("login_failed", key="k", device="d")
        except RateLimited as refused:
            wait = refused.retry_after
            assert 1 <= wait <= PERIOD
            if wait > 1:
                clock.advance(wait - 1)
                assert not allowed(key="k", device="d"), (n, wait)
                clock.advance(1)
            else:
                clock.advance(wait)
            assert allowed(key="k", device="d"), (n, wait)
        clock.advance(7)


def test_check_counts_nothing_and_hit_counts_without_comparing(limit):
    limit("2/5m/user")
    for _ in range(5):
        check("login_failed", user_id=7)
    hit("login_failed", user_id=7)
    hit("login_failed", user_id=7)
    hit("login_failed", user_id=7)  # over the amount, counted all the same
    with pytest.raises(RateLimited):
        check("login_failed", user_id=7)
    check("login_failed", user_id=8)


def test_consume_is_attempt(limit):
    limit("1/5m/key")
    counted = ratelimit.consume("login_failed", key="k")
    assert isinstance(counted, ratelimit.Attempt) and counted.keys
    with pytest.raises(RateLimited):
        ratelimit.consume("login_failed", key="k")


def test_window_counters_expire(clock, limit):
    limit("5/5m/key")
    counted = attempt("login_failed", key="k")
    assert cache.get(counted.keys[0]) == 1
    clock.advance(2 * PERIOD - time.time() % PERIOD - 1)  # still the previous window
    assert cache.get(counted.keys[0]) == 1
    clock.advance(PERIOD + 2)
    assert cache.get(counted.keys[0]) is None


def test_twenty_threads_at_once_let_five_through(limit):
    limit("5/5m/key")
    start = threading.Barrier(20)
    results = []

    def one() -> None:
        start.wait()
        results.append(allowed(key="victim"))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True] * 5


# --- refunds and clears ----------------------------------------------------------------


def test_a_refund_gives_back_that_attempt_once(limit):
    limit("3/5m/key")
    first = attempt("login_failed", key="k")
    attempt("login_failed", key="k")
    refund(first)
    refund(first)  # once only
    assert first.refunded
    assert [allowed(key="k") for _ in range(3)] == [True, True, False]


def test_a_refund_after_its_window_ends_gives_back_that_window(clock, limit):
    limit("3/5m/key")
    to_boundary(clock, before=1)
    counted = [attempt("login_failed", key="k") for _ in range(3)]
    clock.advance(2)
    assert not allowed(key="k")
    for one in counted:
        refund(one)
    assert [allowed(key="k") for _ in range(4)] == [True] * 3 + [False]


def test_a_refund_after_a_clear_never_goes_below_zero(limit):
    limit("3/5m/key")
    counted = attempt("login_failed", key="k")
    clear("login_failed", key="k")
    attempt("login_failed", key="k")
    cache.delete(counted.keys[0])
    refund(counted)  # the counter is gone: nothing to give back
    counted = attempt("login_failed", key="k")
    clear("login_failed", key="k")
    cache.set(counted.keys[0], 0)
    refund(counted)
    assert cache.get(counted.keys[0]) == 0
    assert [allowed(key="k") for _ in range(4)] == [True] * 3 + [False]


def test_clear_forgets_the_account_but_not_the_ip(limit):
    limit("3/5m/ip,3/5m/key,3/5m/user,3/5m/device")
    request = request_from("203.0.113.7")
    for _ in range(3):
        attempt("login_failed", request, key="bob", user_id=1, device="dev")
    assert not allowed(request=request_from("198.51.100.1"), key="bob")
    assert not allowed(user_id=1)
    assert not allowed(device="dev")
    clear("login_failed", key="bob", user_id=1, device="dev")
    assert allowed(request=request_from("198.51.100.1"), key="bob", user_id=1, device="dev")
    assert not allowed(request=request, key="alice")  # the ip still counts its 3


def test_an_unknown_scope_names_the_setting_and_device_is_known():
    assert ratelimit.parse_rates("x", "5/m/device") == [ratelimit.Rate(5, 60, "device")]
    with pytest.raises(ImproperlyConfigured, match=r"USERACCOUNTS_RATE_LIMITS\['x'\].*device"):
        ratelimit.parse_rates("x", "5/m/session")


# --- client addresses ------------------------------------------------------------------


def test_an_ipv6_client_counts_by_its_64(limit):
    limit("20/5m/ip")
    addresses = [f"2001:db8:1:2:{n:x}:{n * 7:x}:0:{n + 1:x}" for n in range(40)]
    results = [allowed(request=request_from(a)) for a in addresses]
    assert results == [True] * 20 + [False] * 20
    assert client_ip(request_from(addresses[5])) == "2001:db8:1:2::/64"
    assert client_address(request_from(addresses[5])) == addresses[5]
    # The next /64 is another subscriber.
    assert allowed(request=request_from("2001:db8:1:3::1"))
    assert client_ip(request_from("2001:db8:1:3::1")) == "2001:db8:1:3::/64"


def test_an_ipv4_mapped_address_counts_as_its_ipv4(limit):
    limit("2/5m/ip")
    assert client_ip(request_from("::ffff:203.0.113.7")) == "203.0.113.7"
    assert client_address(request_from("::ffff:203.0.113.7")) == "203.0.113.7"
    assert allowed(request=request_from("203.0.113.7"))
    assert allowed(request=request_from("::ffff:203.0.113.7"))
    assert not allowed(request=request_from("::ffff:cb00:7107"))  # the same, in hex
    assert client_ip(request_from("203.0.113.8")) == "203.0.113.8"


def test_a_malformed_forwarded_address_falls_back_and_is_logged_once(settings, caplog):
    settings.USERACCOUNTS_TRUSTED_PROXY_COUNT = 1
    caplog.set_level(logging.WARNING, logger="useraccounts")
    junk = f"not-an-ip-{uuid.uuid4().hex}"
    for _ in range(3):
        assert client_ip(request_from("10.0.0.1", f"6.6.6.6, {junk}")) == "10.0.0.1"
    warnings = [r for r in caplog.records if junk in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and warnings[0].name == "useraccounts"
    assert repr(junk) in warnings[0].getMessage()
    # A long value is logged cut to 64 characters; a valid one is used as it is.
    long = "x" * 60 + uuid.uuid4().hex
    assert client_ip(request_from("10.0.0.1", long)) == "10.0.0.1"
    assert repr(long[:64]) in caplog.text and long[:65] not in caplog.text
    assert client_ip(request_from("10.0.0.1", "2001:db8::1")) == "2001:db8::/64"


def test_no_valid_address_at_all_is_unknown(settings, caplog):
    settings.USERACCOUNTS_TRUSTED_PROXY_COUNT = 1
    junk = f"junk-{uuid.uuid4().hex}"
    request = request_from(junk, "also junk")
    assert client_ip(request) == "unknown"
    assert client_address(request) is None
    assert repr(junk) in caplog.text
    request.META.pop("REMOTE_ADDR")
    assert client_ip(request) == "unknown"


# --- when the cache is down ------------------------------------------------------------

UNREACHABLE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def cache_down():
    with override_settings(CACHES=UNREACHABLE, USERACCOUNTS_RATE_LIMITS={"x": "5/m/key"}):
        yield


def every_call():
    """One call of each public function that touches the cache."""
    counted = ratelimit.Attempt("x", ("useraccounts:rl:x:key:60:0:0",))
    request = request_from("203.0.113.7")
    return {
        "attempt": lambda: attempt("x", request, key="secret@example.com"),
        "consume": lambda: ratelimit.consume("x", request, key="secret@example.com"),
        "check": lambda: check("x", request, key="secret@example.com"),
        "hit": lambda: hit("x", request, key="secret@example.com"),
        "refund": lambda: refund(counted),
        "clear": lambda: clear("x", key="secret@example.com"),
    }


def test_limits_fail_closed_by_default(cache_down, caplog):
    assert app_settings.RATE_LIMITS_FAIL_OPEN is False
    started = time.monotonic()
    calls = every_call()
    loosening = {name: calls.pop(name) for name in ("refund", "clear")}
    for name, call in calls.items():
        with pytest.raises(RateLimiterUnavailable) as refused:
            call()
        assert refused.value.code == "repository_error", name
        assert refused.value.retry_after == 30
    # Left undone, a refund or a clear leaves a count high (strict): the work it follows
    # (a login, a reset) has happened, and stands.
    for call in loosening.values():
        call()
    warnings = [r.getMessage() for r in caplog.records if r.name == "useraccounts"]
    assert len(warnings) == 2 and all("ConnectionError" in w for w in warnings)
    assert time.monotonic() - started < 5


def test_limits_can_fail_open_with_a_warning(cache_down, settings, caplog):
    settings.USERACCOUNTS_RATE_LIMITS_FAIL_OPEN = True
    caplog.set_level(logging.WARNING, logger="useraccounts")
    calls = every_call()
    counted = calls.pop("attempt")()
    assert counted.keys == ()
    for call in calls.values():
        call()
    warnings = [r.getMessage() for r in caplog.records if r.name == "useraccounts"]
    assert len(warnings) == 6 and all("ConnectionError" in w for w in warnings)
    assert "secret" not in caplog.text


def test_fail_open_must_be_a_bool(settings):
    settings.USERACCOUNTS_RATE_LIMITS_FAIL_OPEN = "no"
    with pytest.raises(ImproperlyConfigured, match="USERACCOUNTS_RATE_LIMITS_FAIL_OPEN"):
        app_settings.RATE_LIMITS_FAIL_OPEN  # noqa: B018
