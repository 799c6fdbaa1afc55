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


def test_runs_on_a_supported_django():
    """Django 5.2 LTS and newer; under tox, exactly the series the env asked for (a
    dependency must not change it behind the env's back)."""
    import django

    assert django.VERSION >= (5, 2), django.get_version()
    expected = os.environ.get("EXPECT_DJANGO", ".".join(map(str, django.VERSION[:2])))
    assert django.get_version().startswith(expected + "."), (django.get_version(), expected)
