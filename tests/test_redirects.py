"""Where the pages send people afterwards: ``LOGIN_REDIRECT_URL`` and
``LOGOUT_REDIRECT_URL`` work as Django's own views make them work (a URL, a path or a
named URL pattern), and ``next`` only when it points at this site."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

LOGIN = reverse("useraccounts:login")
LOGOUT = reverse("useraccounts:logout")

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("useraccounts:account", "/accounts/account/"),  # a named URL pattern
        ("/accounts/email/", "/accounts/email/"),  # a path
    ],
)
def test_login_redirect_url_may_be_a_name_or_a_path(account, settings, setting, expected):
    settings.LOGIN_REDIRECT_URL = setting
    client = Client()
    response = client.post(LOGIN, {"login": account.email, "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, expected)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("useraccounts:login", "/accounts/login/"), ("/bye/", "/bye/"), (None, "/")],
)
def test_logout_redirect_url_may_be_a_name_or_a_path(logged_in, settings, setting, expected):
    settings.LOGOUT_REDIRECT_URL = setting
    response = logged_in.post(LOGOUT)
    assert (response.status_code, response["Location"]) == (302, expected)


def test_account_deletion_follows_logout_redirect_url(logged_in, settings):
    settings.LOGOUT_REDIRECT_URL = "useraccounts:signup"
    response = logged_in.post(reverse("useraccounts:account_delete"), {"password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/accounts/signup/")


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/accounts/email/", "/accounts/email/"),
        ("http://testserver/accounts/email/", "http://testserver/accounts/email/"),
        ("https://evil.example/", "/accounts/account/"),
        ("//evil.example/", "/accounts/account/"),
    ],
)
def test_next_is_followed_only_to_this_site(account, settings, next_url, expected):
    settings.LOGIN_REDIRECT_URL = "useraccounts:account"
    data = {"login": account.email, "password": PASSWORD, "next": next_url}
    response = Client().post(LOGIN, data)
    assert response["Location"] == expected
