"""The benchmark script runs (on a few users; timing is for benchmarks, not tests)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from benchmarks.run import FLOWS

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    settings.AUTH_USER_MODEL != "auth.User", reason="run once, with the default user model"
)


def run(*args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    ).stdout


def test_flows_table():
    out = run("--users", "2", "--hashers", "md5")
    for label in FLOWS.values():
        assert re.search(rf"^{re.escape(label)} +\d", out, re.M), label
    assert re.search(r"^login \(POST\) +6 ", out, re.M)  # as tests/test_query_budgets.py
    # The JSON API's flows cost no more than the pages' (tests/test_query_budgets.py).
    assert re.search(r"^JSON API login \(POST\) +6 ", out, re.M)
    assert re.search(r"^JSON API signup \(POST\) +6 ", out, re.M)
    assert "useraccounts queries" in out


def test_scale_mode():
    out = run("--scale", "10,200", "--users", "3")
    assert "200 users" in out and "ratio 200 / 10 users" in out


def test_cache_sessions():
    out = run("--users", "2", "--hashers", "md5", "--sessions", "cache")
    assert "cache sessions" in out
    assert re.search(r"^login \(POST\) +2 ", out, re.M)  # the session costs no query
