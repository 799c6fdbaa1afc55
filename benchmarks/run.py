"""Queries and time per account flow, for useraccounts and (optionally) django-allauth,
side by side.

Each flow runs for N fresh users through Django's test client; the table shows medians.
Each app runs in its own processes and databases, with the same settings
(``benchmarks/settings_base.py``), so the difference is the account app alone; the apps
take turns in rounds, so drift in the machine's speed favours neither.

    python benchmarks/run.py --users 200 --hashers md5,argon2 --compare-allauth
    python benchmarks/run.py --users 200 --hashers md5 --compare-allauth --sessions cache
    python benchmarks/run.py --scale 1000,1000000

``--scale`` times login with that many users in the database instead (SQLite; with
``DATABASE_URL``, PostgreSQL, in a throwaway database that it empties first).

``--compare-allauth`` needs django-allauth installed (``benchmarks/requirements.txt``);
it is never a dependency of useraccounts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark user's)
NEW_PASSWORD = "a brand new passphrase"  # noqa: S105
FLOWS = {
    "signup": "signup (GET form + POST)",
    "confirm": "confirm email (GET link + POST)",
    "login": "login (POST)",
    "reset_request": "reset request (POST)",
    "reset_confirm": "reset confirm (GET link, redirect, POST)",
    "wrong_password": "wrong password",
    "unknown_login": "unknown login",
    "api_signup": "JSON API signup (POST)",
    "api_confirm": "JSON API confirm email (POST)",
    "api_login": "JSON API login (POST)",
}
# The JSON flows are allauth's headless API with its "browser" client (session cookie),
# against ours with the same client kind; each answers as its documentation says.
APPS = {
    "useraccounts": {
        "settings": "benchmarks.settings_useraccounts",
        "reset_fields": "new_password",
        "api": {
            "signup": ("/accounts/api/signup", ("password1", "password2"), 201),
            "confirm": ("/accounts/api/email/confirm", "token", 200),
            "login": ("/accounts/api/login", "login", 200),
        },
    },
    "allauth": {
        "settings": "benchmarks.settings_allauth",
        "reset_fields": "password",
        "api": {
            # 401: verify the address first.
            "signup": ("/_allauth/browser/v1/auth/signup", ("password",), 401),
            "confirm": ("/_allauth/browser/v1/auth/email/verify", "key", 401),  # not logged in
            "login": ("/_allauth/browser/v1/auth/login", "email", 200),
        },
    },
}
WARM_UP = 5
ROUNDS = 4
# SQLite files live in RAM where the machine has it, so the times are the frameworks'
# work and not the disk's fsync latency (the same for both apps, and noisy).
SHM = "/dev/shm"  # noqa: S108 (only as the parent of a private mkdtemp folder)
DATABASE_DIR = SHM if os.path.isdir(SHM) else None
SESSIONS = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
}


def run_worker(app: str, users: int) -> dict:
    """Run every flow for ``users`` fresh users in this process; every sample per flow."""
    import django
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    django.setup()
    call_command("migrate", verbosity=0)
    setup_test_environment()
    samples: dict[str, dict[str, list[float]]] = {f: {"ms": [], "queries": []} for f in FLOWS}
    for n in range(users + WARM_UP):
        one_user(app, n, samples if n >= WARM_UP else None)
    return samples


def measure(samples: dict | None, flow: str, steps, expect: int):
    """Run ``steps`` (requests), counting its queries and time into ``samples``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = steps()
        elapsed = time.perf_counter() - start
    if response.status_code != expect:
        raise SystemExit(f"{flow}: HTTP {response.status_code}, expected {expect}")
    if samples is not None:
        samples[flow]["ms"].append(elapsed * 1000)
        samples[flow]["queries"].append(len(queries.captured_queries))
    return response


def one_user(app: str, n: int, samples: dict | None) -> None:
    """Every flow, once, for a fresh user ``n``."""
    from django.core import mail
    from django.test import Client

    def link(pattern: str) -> str:
        return re.search(pattern, mail.outbox[-1].body)[0]

    email = f"user{n}@example.com"
    signup = {"username": f"user{n}", "email": email, "password1": PASSWORD, "password2": PASSWORD}
    client = Client()

    def sign_up():
        client.get("/accounts/signup/")
        return client.post("/accounts/signup/", signup)

    measure(samples, "signup", sign_up, 302)
    confirm_url = link(r"http://testserver/accounts/confirm-email/\S+")

    def confirm():
        client.get(confirm_url)
        return client.post(confirm_url)

    measure(samples, "confirm", confirm, 302)

    def post_login(password: str, login: str = email):
        return lambda: Client().post("/accounts/login/", {"login": login, "password": password})

    measure(samples, "login", post_login(PASSWORD), 302)
    resetter = Client()
    measure(
        samples,
        "reset_request",
        lambda: resetter.post("/accounts/password/reset/", {"email": email}),
        302,
    )
    reset_url = link(r"http://testserver/accounts/password/reset/\S+")
    field = APPS[app]["reset_fields"]

    def reset_confirm():
        form_url = resetter.get(reset_url)["Location"]
        resetter.get(form_url)
        return resetter.post(form_url, {f"{field}1": NEW_PASSWORD, f"{field}2": NEW_PASSWORD})

    measure(samples, "reset_confirm", reset_confirm, 302)
    measure(samples, "wrong_password", post_login("not the password"), 200)
    measure(samples, "unknown_login", post_login(PASSWORD, f"nobody{n}@example.com"), 200)
    api_flows(app, n, samples)


def api_flows(app: str, n: int, samples: dict | None) -> None:
    """Signup, confirmation and login through the app's JSON API, for a fresh user."""
    from urllib.parse import unquote

    from django.core import mail
    from django.test import Client

    api = APPS[app]["api"]
    email = f"api-user{n}@example.com"
    client = Client()

    def post(client: Client, path: str, body: dict):
        return client.post(path, json.dumps(body), content_type="application/json")

    path, password_fields, status = api["signup"]
    body = {"username": f"api-user{n}", "email": email}
    body |= dict.fromkeys(password_fields, PASSWORD)
    measure(samples, "api_signup", lambda: post(client, path, body), status)
    # Neither benchmark site has a front end: the key is the one in the HTML page's link.
    key = unquote(re.search(r"/confirm-email/([^/\s]+)", mail.outbox[-1].body)[1])
    path, field, status = api["confirm"]
    measure(samples, "api_confirm", lambda: post(client, path, {field: key}), status)
    path, field, status = api["login"]
    login = {field: email, "password": PASSWORD}
    measure(samples, "api_login", lambda: post(Client(), path, login), status)


def run_scale_worker(seeded: int, logins: int) -> dict:
    """Login time with ``seeded`` users in the database (useraccounts only)."""
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    django.setup()
    call_command("migrate", verbosity=0)
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        call_command("flush", interactive=False, verbosity=0)  # a throwaway database
    setup_test_environment()
    from tests.seed import seed_users

    seed_users(seeded)
    from django.contrib.auth import get_user_model

    from useraccounts.models import EmailAddress

    user = get_user_model().objects.create_user("scale", "scale@example.com", PASSWORD)
    EmailAddress.objects.create(user=user, email="scale@example.com", primary=True, verified=True)
    times, counts = [], []
    for n in range(logins + WARM_UP):
        client = Client()
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.post(
                "/accounts/login/", {"login": "scale@example.com", "password": PASSWORD}
            )
            elapsed = time.perf_counter() - start
        if response.status_code != 302:
            raise SystemExit(f"login at {seeded} users: HTTP {response.status_code}")
        if n >= WARM_UP:
            times.append(elapsed * 1000)
            counts.append(len(queries.captured_queries))
    return {"ms": statistics.median(times), "queries": statistics.median(counts)}


def worker_process(args: list[str], env: dict) -> dict:
    """Run this script as a worker with ``args`` and ``env``; its JSON answer."""
    out = subprocess.run(  # noqa: S603 (this very script, as a worker)
        [sys.executable, __file__, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale(sizes: list[int], logins: int) -> None:
    """Print login time at each size and the ratio of the largest to the smallest."""
    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            results[size] = worker_process(
                ["--scale-worker", str(size), "--users", str(logins)],
                {
                    "DJANGO_SETTINGS_MODULE": "benchmarks.settings_useraccounts",
                    "BENCH_DB": str(Path(tmp) / "scale.sqlite3"),
                    "BENCH_HASHER": "md5",
                },
            )
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(f"Login (POST) with N users in the database; {database}; {logins} logins, medians\n")
    for size, result in results.items():
        print(f"{size:>10,} users: {result['ms']:.2f} ms, {result['queries']:g} queries")
    ratio = results[sizes[-1]]["ms"] / results[sizes[0]]["ms"]
    print(f"ratio {sizes[-1]:,} / {sizes[0]:,} users: {ratio:.2f}x")


def measure_apps(apps: list[str], users: int, hasher: str, sessions: str) -> dict:
    """Medians per app and flow, the apps taking turns in rounds.

    Each round runs each app in a fresh process and database; the order alternates
    between rounds, so a machine that slows down or speeds up during the run does not
    favour the app that ran first.
    """
    samples = {app: {flow: {"ms": [], "queries": []} for flow in FLOWS} for app in apps}
    rounds = min(ROUNDS, users)
    for number in range(rounds):
        share = users // rounds + (number < users % rounds)
        for app in apps if number % 2 == 0 else apps[::-1]:
            with tempfile.TemporaryDirectory(dir=DATABASE_DIR) as tmp:
                result = worker_process(
                    ["--worker", app, "--users", str(share)],
                    {
                        "DJANGO_SETTINGS_MODULE": APPS[app]["settings"],
                        "BENCH_DB": str(Path(tmp) / "bench.sqlite3"),
                        "BENCH_HASHER": hasher,
                        "BENCH_SESSIONS": SESSIONS[sessions],
                    },
                )
            for flow, data in result.items():
                for key, values in data.items():
                    samples[app][flow][key] += values
    return {
        app: {
            flow: {key: statistics.median(values) for key, values in data.items()}
            for flow, data in flows.items()
        }
        for app, flows in samples.items()
    }


def versions(apps: list[str]) -> str:
    from importlib.metadata import version

    names = {"useraccounts": "django-useraccounts", "allauth": "django-allauth"}
    parts = [f"Django {version('Django')}"] + [f"{names[a]} {version(names[a])}" for a in apps]
    return ", ".join(parts)


def table(results: dict, apps: list[str], hashers: list[str]) -> str:
    """One reStructuredText grid of queries and milliseconds, with ratios to allauth."""
    header = ["flow", *[f"{a} queries" for a in apps]]
    for hasher in hashers:
        header += [f"{a} ms ({hasher})" for a in apps]
    if "allauth" in apps:
        header.insert(len(apps) + 1, "ratio")
        for i, hasher in enumerate(hashers):
            header.insert(len(apps) + 2 + (i + 1) * len(apps) + i, f"ratio ({hasher})")
    rows = []
    for flow, label in FLOWS.items():
        row = [label]
        queries = [results[hashers[0]][a][flow]["queries"] for a in apps]
        row += [f"{q:g}" for q in queries]
        if "allauth" in apps:
            row.append(f"{queries[0] / queries[1]:.2f}" if queries[1] else "-")
        for hasher in hashers:
            times = [results[hasher][a][flow]["ms"] for a in apps]
            row += [f"{t:.1f}" for t in times]
            if "allauth" in apps:
                row.append(f"{times[0] / times[1]:.2f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    border = " ".join("=" * w for w in widths)
    line = lambda r: " ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([border, line(header), border, *map(line, rows), border])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="fresh users per flow")
    parser.add_argument("--hashers", default="md5,argon2", help="md5, argon2 or both")
    parser.add_argument("--compare-allauth", action="store_true", help="run allauth too")
    parser.add_argument(
        "--sessions",
        choices=SESSIONS,
        default="db",
        help="Django's session engine for both apps: db (Django's default) or cache",
    )
    parser.add_argument(
        "--scale", help="instead: login time at these user counts, e.g. 1000,1000000"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.users)))
        return
    if args.scale_worker:
        print(json.dumps(run_scale_worker(args.scale_worker, args.users)))
        return
    if args.scale:
        scale([int(n) for n in args.scale.split(",")], args.users)
        return
    apps = ["useraccounts"]
    if args.compare_allauth:
        if importlib.util.find_spec("allauth") is None:
            parser.error(
                "--compare-allauth needs django-allauth: "
                "pip install -r benchmarks/requirements.txt"
            )
        apps.append("allauth")
    hashers = args.hashers.split(",")
    results = {h: measure_apps(apps, args.users, h, args.sessions) for h in hashers}
    print(
        f"{args.users} fresh users per flow, medians; SQLite "
        f"({'in RAM' if DATABASE_DIR else 'on disk'}), {args.sessions} sessions, "
        f"rate limits off; "
        f"{versions(apps)}; Python {platform.python_version()}; {os.cpu_count()} cores, "
        f"{platform.machine()}; {time.strftime('%Y-%m-%d')}\n"
    )
    print(table(results, apps, hashers))


if __name__ == "__main__":
    main()
