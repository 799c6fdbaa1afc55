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
