"""Rate limits hold across processes: two site processes sharing one Redis cache count
failed logins together, as servers behind a load balancer would, and concurrent attempts
from two processes never get more than the amount through."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.redis


def redis_reachable() -> bool:
    host_port = urllib.parse.urlsplit(REDIS_URL)
    try:
        with socket.create_connection((host_port.hostname, host_port.port or 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis():
    if not redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide Redis at {REDIS_URL} (.ci/run starts it)")
        pytest.skip(f"no Redis at {REDIS_URL} (set REDIS_URL, or start redis-server)")
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_sites(redis, tmp_path_factory):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
        "USERACCOUNTS_TEST_DB": str(tmp_path_factory.mktemp("db") / "site.sqlite3"),
        "USERACCOUNTS_TEST_CACHE_PREFIX": f"test-{uuid.uuid4().hex}",
        "REDIS_URL": redis,
        "PYTHONPATH": str(ROOT),
    }
    database = sites_database()
    if database is not None:  # both sites on one PostgreSQL database, as in production
        env["USERACCOUNTS_TEST_DB_URL"] = next(database)
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    sites, procs = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [*manage, "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        sites.append(f"http://127.0.0.1:{port}")
    try:
        for site in sites:
            wait_for(site)
        yield sites
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        if database is not None:
            next(database, None)  # drops it


def sites_database():
    """With DATABASE_URL (PostgreSQL), a fresh database for the site processes on that
    server: yields its URL, then drops it. None on SQLite."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None

    def lifecycle():
        import psycopg

        parts = urllib.parse.urlsplit(url)
        name = f"useraccounts_sites_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield parts._replace(path=f"/{name}").geturl()
        finally:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return lifecycle()


def wait_for(site: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{site}/accounts/login/", timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def failed_login(site: str, login: str) -> int:
    """A failed login posted to ``site`` as a browser would; the response's status."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{site}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "login": login, "password": "wrong password"}
    ).encode()
    request = urllib.request.Request(
        f"{site}/accounts/login/", data=data, headers={"Referer": f"{site}/accounts/login/"}
    )
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def test_failed_logins_are_counted_across_processes(two_sites):
    first, second = two_sites
    login = f"target-{uuid.uuid4().hex[:8]}@example.com"
    # The limit is 3 per login; no single process sees more than 2 of these failures.
    assert [failed_login(first, login), failed_login(second, login)] == [200, 200]
    assert failed_login(first, login) == 200
    assert failed_login(second, login) == 429
    assert failed_login(first, login) == 429
    # Another login is counted apart.
    assert failed_login(second, f"other-{login}") == 200


def test_concurrent_failed_logins_on_two_sites_let_the_limit_through(two_sites):
    """20 browsers guess at once, through both site processes: the limit (3 per login
    there) lets exactly 3 be checked, the others answered 429."""
    login = f"rush-{uuid.uuid4().hex[:8]}@example.com"
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda n: failed_login(two_sites[n % 2], login), range(20)))
    assert sorted(statuses) == [200] * 3 + [429] * 17, statuses


ATTEMPT_WORKER = """
import json, sys, threading, time
import django
django.setup()
from django.test import override_settings
from useraccounts import ratelimit
from useraccounts.exceptions import RateLimited

job = json.loads(sys.argv[1])
results = []
with override_settings(USERACCOUNTS_RATE_LIMITS={"login_failed": job["rate"]}):
    for n, key in enumerate(job["keys"]):
        ready = threading.Barrier(job["threads"])
        passed = []

        def one():
            ready.wait()
            try:
                ratelimit.attempt("login_failed", key=key)
            except RateLimited:
                return
            passed.append(1)

        threads = [threading.Thread(target=one) for _ in range(job["threads"])]
        time.sleep(max(0.0, job["start"] + n * job["gap"] - time.time()))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.append(len(passed))
print(json.dumps(results))
"""


def test_concurrent_attempts_from_two_processes_let_the_amount_through(redis, tmp_path):
    """20 attempts at once (10 threads in each of two processes) against 5/5m: every
    attempt is counted by Redis's atomic INCR before it is compared, so exactly 5 pass.
    Five rounds, each on a fresh key: counting after reading would let most through."""
    if time.time() % 300 > 285:  # all rounds in one window, as if no earlier attempts
        time.sleep(301 - time.time() % 300)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
        "USERACCOUNTS_TEST_DB": str(tmp_path / "unused.sqlite3"),
        "USERACCOUNTS_TEST_CACHE_PREFIX": f"test-{uuid.uuid4().hex}",
        "REDIS_URL": redis,
        "PYTHONPATH": str(ROOT),
    }
    rounds = 5
    job = {
        "rate": "5/5m/key",
        "keys": [f"race-{uuid.uuid4().hex}" for _ in range(rounds)],
        "threads": 10,
        "start": time.time() + 3,  # both processes set up by then
        "gap": 0.5,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", ATTEMPT_WORKER, json.dumps(job)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    first, second = (json.loads(output) for output in outputs)
    assert [a + b for a, b in zip(first, second, strict=True)] == [5] * rounds
