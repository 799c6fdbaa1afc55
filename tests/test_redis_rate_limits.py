"""Rate limits hold across processes: two site processes sharing one Redis cache count
failed logins together, as servers behind a load balancer would."""

import http.cookiejar
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
    # Limits count in fixed 5-minute windows; start well inside one, or a new window
    # could begin halfway through and (rightly) start counting from zero.
    if time.time() % 300 > 270:
        time.sleep(301 - time.time() % 300)
    # The limit is 3 per login; no single process sees more than 2 of these failures.
    assert [failed_login(first, login), failed_login(second, login)] == [200, 200]
    assert failed_login(first, login) == 200
    assert failed_login(second, login) == 429
    assert failed_login(first, login) == 429
    # Another login is counted apart.
    assert failed_login(second, f"other-{login}") == 200
