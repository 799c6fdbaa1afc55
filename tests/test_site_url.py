"""Emailed links point at the site, not at whatever Host header a visitor sends.

With ``ALLOWED_HOSTS = ["*"]`` (common behind a proxy) Django accepts any Host, so a link
built from the request can be made to point at an attacker's server: the victim clicks
it and hands over the token. ``USERACCOUNTS_SITE_URL``, when set, is the only origin of
the links and of the site name in the text.
"""

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import create_account
from tests.test_story import signup_data

pytestmark = pytest.mark.django_db
SITE = "https://accounts.example.com"
LINK = re.compile(r"https?://[^\s\"'<>]+")


def everything_in(message) -> str:
    """All a recipient sees: subject, text body and HTML alternative."""
    return "\n".join([message.subject, message.body, *(body for body, _ in message.alternatives)])


def assert_only_site_links(message, site=SITE):
    text = everything_in(message)
    links = LINK.findall(text)
    assert links, text
    assert all(link.startswith(f"{site}/") for link in links), links
    assert "evil.example" not in text


@override_settings(ALLOWED_HOSTS=["*"], USERACCOUNTS_SITE_URL=SITE)
def test_a_reset_asked_for_with_a_forged_host_links_to_the_site(mailoutbox):
    create_account("bob", "bob@example.com")
    attacker = Client(HTTP_HOST="evil.example")
    response = attacker.post(reverse("useraccounts:password_reset"), {"email": "bob@example.com"})
    assert response.status_code == 302
    (message,) = mailoutbox
    assert message.to == ["bob@example.com"]
    assert_only_site_links(message)
    assert "accounts.example.com" in message.subject


@override_settings(ALLOWED_HOSTS=["*"], USERACCOUNTS_SITE_URL=SITE)
def test_a_signup_with_a_forged_host_links_to_the_site(mailoutbox):
    visitor = Client(HTTP_HOST="evil.example")
    response = visitor.post(reverse("useraccounts:signup"), signup_data())
    assert response.status_code == 302
    (message,) = mailoutbox
    assert message.to == ["alice@example.com"]
    assert_only_site_links(message)


@override_settings(ALLOWED_HOSTS=["*"], USERACCOUNTS_SITE_URL=SITE)
def test_a_signup_with_a_taken_address_and_a_forged_host_links_to_the_site(mailoutbox):
    create_account("bob", "alice@example.com")
    visitor = Client(HTTP_HOST="evil.example")
    visitor.post(reverse("useraccounts:signup"), signup_data(username="alice2"))
    (notice,) = mailoutbox
    assert notice.to == ["alice@example.com"]
    assert_only_site_links(notice)


@override_settings(ALLOWED_HOSTS=["shop.example"], USERACCOUNTS_SITE_URL=None)
def test_without_site_url_the_request_host_is_used(mailoutbox):
    create_account("bob", "bob@example.com")
    Client(HTTP_HOST="shop.example").post(
        reverse("useraccounts:password_reset"), {"email": "bob@example.com"}
    )
    (message,) = mailoutbox
    assert_only_site_links(message, site="http://shop.example")
    assert "shop.example" in message.subject
