"""Timing does not tell who has an account: with an email provider 50 ms away, a reset
or a request for a new confirmation link takes as long for an unknown address as for a
known one, since both send one mail. Only a ratio of two medians measured in the same
test is asserted (the machine's speed cancels out)."""

from __future__ import annotations

import statistics
import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import create_account

pytestmark = pytest.mark.django_db
SAMPLES = 30


@pytest.fixture(autouse=True)
def _slow_provider(settings):
    settings.EMAIL_BACKEND = "tests.backends.SlowEmailBackend"
    settings.USERACCOUNTS_RATE_LIMITS = False


def medians(url: str, known: str, unknown: str) -> tuple[float, float]:
    """Median seconds of POSTing each address, the two taking turns."""
    client = Client()
    times: dict[str, list[float]] = {known: [], unknown: []}
    for _ in range(SAMPLES):
        for email in (known, unknown):
            start = time.perf_counter()
            response = client.post(url, {"email": email})
            times[email].append(time.perf_counter() - start)
            assert response.status_code == 302
    return statistics.median(times[known]), statistics.median(times[unknown])


def test_a_reset_takes_as_long_for_an_unknown_address(mailoutbox):
    create_account("bob", "bob@example.com")
    known, unknown = medians(
        reverse("useraccounts:password_reset"), "bob@example.com", "nobody@example.com"
    )
    assert len(mailoutbox) == 2 * SAMPLES  # a link or a note, one mail each
    assert 0.9 <= unknown / known <= 1.1, (known, unknown)


def test_a_resend_takes_as_long_for_an_unknown_address(mailoutbox):
    create_account("bob", "bob@example.com", verified=False)
    known, unknown = medians(
        reverse("useraccounts:resend_confirmation"), "bob@example.com", "nobody@example.com"
    )
    assert len(mailoutbox) == 2 * SAMPLES
    assert 0.9 <= unknown / known <= 1.1, (known, unknown)
