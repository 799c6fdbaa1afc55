"""The suite runs on the database it was asked for: PostgreSQL when DATABASE_URL is set
(never silently on SQLite), SQLite otherwise."""

import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_runs_on_the_requested_database():
    expected = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_runs_on_the_django_tox_asked_for():
    """tox's Django 4.2 env must not be upgraded behind its back by a dependency."""
    import django

    expected = os.environ.get("EXPECT_DJANGO")
    if expected:
        assert django.get_version().startswith(expected + "."), django.get_version()
