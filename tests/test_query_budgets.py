"""Query budgets per flow, counted as production runs them (no enclosing test
transaction, so BEGIN and COMMIT count on SQLite, as in ``benchmarks/run.py``).

The budgets are half of what django-allauth spends on the same flows (see the README's
benchmark table). Login is held at its current floor instead: most of its queries are
Django's session backend and ``last_login``, which any Django login pays.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, link_in
from tests.test_story import signup_data
from useraccounts.audit.receivers import connect_all, disconnect_all

pytestmark = pytest.mark.django_db(transaction=True)
NEW = "a brand new passphrase"


@pytest.fixture(autouse=True)
def _the_app_alone(settings):
    """As in the benchmark: no rate limits, and no audit trail writing a row per signal."""
    settings.USERACCOUNTS_RATE_LIMITS = False
    disconnect_all()
    yield
    connect_all()


def test_budgets(mailoutbox, django_assert_max_num_queries):
    client = Client()
    with django_assert_max_num_queries(7):  # allauth: 15
        client.get(reverse("useraccounts:signup"))
        client.post(reverse("useraccounts:signup"), signup_data())
    link = link_in(mailoutbox[0])
    with django_assert_max_num_queries(7):  # allauth: 15
        client.get(link)
        client.post(link)
    login = {"login": "alice@example.com", "password": PASSWORD}
    with django_assert_max_num_queries(6):  # allauth: 11; 5 of ours are session + last_login
        assert Client().post(reverse("useraccounts:login"), login).status_code == 302
    resetter = Client()
    with django_assert_max_num_queries(3):  # allauth: 3
        resetter.post(reverse("useraccounts:password_reset"), {"email": "alice@example.com"})
    reset_link = link_in(mailoutbox[1])
    with django_assert_max_num_queries(4):  # allauth: 17
        form_url = resetter.get(reset_link)["Location"]
        resetter.get(form_url)
        resetter.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    wrong = {"login": "alice@example.com", "password": "not it"}
    with django_assert_max_num_queries(1):  # allauth: 4
        assert Client().post(reverse("useraccounts:login"), wrong).status_code == 200
    unknown = {"login": "nobody@example.com", "password": "not it"}
    with django_assert_max_num_queries(2):  # allauth: 6
        assert Client().post(reverse("useraccounts:login"), unknown).status_code == 200


def test_the_json_api_costs_no_more_than_the_pages(mailoutbox, django_assert_max_num_queries):
    """The API is the same manager behind another parser: signup, confirmation and login
    cost no more queries than the HTML flows above, though login's answer carries the
    account's addresses, which the HTML login shows only on the page it leads to."""

    def post(client, name, body):
        return client.post(reverse(name), json.dumps(body), content_type="application/json")

    client = Client()
    with django_assert_max_num_queries(6):
        assert post(client, "useraccounts_api:signup", signup_data()).status_code == 201
    token = link_in(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    with django_assert_max_num_queries(5):
        assert post(client, "useraccounts_api:confirm_email", {"token": token}).status_code == 200
    login = {"login": "alice@example.com", "password": PASSWORD}
    with django_assert_max_num_queries(6):
        response = post(Client(), "useraccounts_api:login", login)
    assert response.status_code == 200
    assert response.json()["email_addresses"] == [
        {"email": "alice@example.com", "verified": True, "primary": True}
    ]
