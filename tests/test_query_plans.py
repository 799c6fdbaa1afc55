"""At scale, every lookup the app makes uses an index: with tens of thousands of users
seeded, PostgreSQL's plan for each query of the real flows has no sequential scan of
the user or address tables."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from tests.seed import seed_users
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
SEEDED = 50_000


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("query plans are PostgreSQL's: set DATABASE_URL")
    settings.USERACCOUNTS_RATE_LIMITS = False


def plans_of(queries) -> list[tuple[str, str]]:
    """(query, plan) for each captured query that reads the user or address table."""
    tables = {get_user_model()._meta.db_table, EmailAddress._meta.db_table}
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                continue
            if not any(f'"{table}"' in sql for table in tables):
                continue
            cursor.execute(f"EXPLAIN {sql}")
            found.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return found


def test_no_lookup_scans_a_whole_table(mailoutbox):
    seed_users(SEEDED)
    user = create_account("plan", "plan@example.com", verified=False)
    EmailAddress.objects.filter(user=user).update(verified=True)
    login = reverse("useraccounts:login")
    with CaptureQueriesContext(connection) as captured:
        Client().post(login, {"login": "PLAN@example.com", "password": PASSWORD})
        Client().post(login, {"login": "seed123@example.com", "password": "wrong"})
        Client().post(login, {"login": "nobody@example.com", "password": "wrong"})
        if has_username():
            Client().post(login, {"login": "plan", "password": PASSWORD})
            Client().post(login, {"login": "seed77", "password": "wrong"})
        client = Client()
        client.post(reverse("useraccounts:password_reset"), {"email": "plan@example.com"})
        reset = client.get(link_in(mailoutbox[-1]))
        client.get(reset["Location"])
        signup = {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}
        if has_username():
            signup["username"] = "newcomer"
        Client().post(reverse("useraccounts:signup"), signup)
        confirm = link_in(mailoutbox[-1])
        Client().get(confirm)
        Client().post(confirm, {"password": PASSWORD})  # another browser: the password
        client.force_login(user)
        client.get(reverse("useraccounts:email"))
        client.post(reverse("useraccounts:resend_confirmation"), {"email": "new@example.com"})
    plans = plans_of(captured.captured_queries)
    assert len(plans) >= 10
    scans = [
        (sql, plan)
        for sql, plan in plans
        if re.search(
            r"Seq Scan on (auth_user|custom_user_emailuser|useraccounts_emailaddress)\b", plan
        )
    ]
    assert not scans, "\n\n".join(f"{sql}\n{plan}" for sql, plan in scans)
