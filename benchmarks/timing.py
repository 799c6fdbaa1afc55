"""Does timing tell who has an account? Reset and resend-confirmation requests for known
and unknown addresses, with an email provider ``--delay`` ms away (every message takes
that long to hand over, as over an SMTP relay or an HTTP API).

    python benchmarks/timing.py --requests 30 --delay 50

Prints the median of each and the ratio unknown / known; the app sends one mail for
either (a link, or a note that no link applies), so the ratio stays near 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from django.core.mail.backends import locmem

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark user's)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="requests per address")
    parser.add_argument("--delay", type=float, default=50, help="ms per message handed over")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    folder = tempfile.mkdtemp(prefix="useraccounts-timing-")
    os.environ.setdefault("BENCH_DB", str(Path(folder) / "db.sqlite3"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings_useraccounts"

    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    django.setup()
    call_command("migrate", verbosity=0)
    setup_test_environment()
    settings.EMAIL_BACKEND = "benchmarks.timing.SlowEmailBackend"
    SlowEmailBackend.delay = args.delay / 1000
    print(
        f"{args.requests} requests per address, medians; a provider {args.delay:g} ms "
        f"away; Django {django.get_version()}, {settings.DATABASES['default']['ENGINE']}"
    )
    for label, url, verified in (
        ("reset request", "/accounts/password/reset/", True),
        ("resend confirmation", "/accounts/confirm-email/resend/", False),
    ):
        known, unknown = measure(url, verified, args.requests)
        print(
            f"{label:20} known {known:6.1f} ms, unknown {unknown:6.1f} ms, "
            f"ratio {unknown / known:.2f}"
        )


def measure(url: str, verified: bool, requests: int) -> tuple[float, float]:
    """Median ms for a known and an unknown address, the two taking turns."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from useraccounts.models import EmailAddress

    email = f"known-{url.strip('/').replace('/', '-')}@example.com"
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    client = Client()
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for n in range(requests + 3):
        for kind, address in (("known", email), ("unknown", f"nobody{n}@example.com")):
            start = time.perf_counter()
            response = client.post(url, {"email": address})
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 302:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
            if n >= 3:  # warm-up
                times[kind].append(elapsed)
    return statistics.median(times["known"]), statistics.median(times["unknown"])


class SlowEmailBackend(locmem.EmailBackend):
    """Each message takes ``delay`` seconds to hand over."""

    delay = 0.05

    def send_messages(self, messages):
        time.sleep(self.delay * len(messages))
        return super().send_messages(messages)


if __name__ == "__main__":
    main()
