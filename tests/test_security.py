"""Abuse resistance: client IPs behind proxies, limits per IP, no enumeration, sessions."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in, visible
from useraccounts.manager import get_account_manager
from useraccounts.ratelimit import client_ip

pytestmark = pytest.mark.django_db
LOGIN = reverse("useraccounts:login")


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy trusted: the header is the client's lie
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the proxy appended the real client
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # fewer hops than proxies: misconfigured, use the peer
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, count, forwarded, expected):
    settings.USERACCOUNTS_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_a_spoofed_header_does_not_escape_the_ip_limit(client, settings, account):
    settings.USERACCOUNTS_TRUSTED_PROXY_COUNT = 1
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "3/5m/ip"}
    for n in range(3):
        # The client varies its own part of the header; the proxy's part stays.
        client.post(
            LOGIN,
            {"login": f"x{n}@example.com", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.7",
        )
    limited = client.post(
        LOGIN,
        {"login": account.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7",
    )
    assert limited.status_code == 429
    other = client.post(
        LOGIN,
        {"login": account.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.8",
    )
    assert other.status_code == 302


def test_reset_requests_per_ip_are_rate_limited(client, settings, clock, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"reset_password": "3/h/ip"}
    for n in range(3):
        client.post(reverse("useraccounts:password_reset"), {"email": f"u{n}@example.com"})
    limited = client.post(reverse("useraccounts:password_reset"), {"email": "z@example.com"})
    assert limited.status_code == 429
    assert signals.of("password_reset_request_failed")[-1]["error_type"] == "rate_limited"
    clock.advance(3600)
    assert (
        client.post(reverse("useraccounts:password_reset"), {"email": "z@example.com"}).status_code
        == 302
    )


def test_resend_answers_byte_for_byte_the_same(mailoutbox):
    create_account("bob", "bob@example.com", verified=False)

    def story(email):
        client = Client()
        url = reverse("useraccounts:resend_confirmation")
        posted = client.post(url, {"email": email})
        return visible([client.get(url), posted, client.get(posted["Location"])], typed=email)

    assert story("bob@example.com") == story("nobody@example.com")
    # One mail each: a link for the signup waiting, a note for the unknown address.
    assert [m.to for m in mailoutbox] == [["bob@example.com"], ["nobody@example.com"]]
    assert "/confirm-email/" in link_in(mailoutbox[0])
    assert "no signup is waiting for it" in mailoutbox[1].body


def test_login_errors_do_not_tell_unknown_from_wrong_password(account):
    def story(login):
        client = Client()
        response = client.post(LOGIN, {"login": login, "password": "wrong password"})
        return visible([response], typed=login)

    assert story(account.email) == story("nobody@example.com")


def test_deactivation_from_code_ends_every_session(account):
    sessions = [Client(), Client()]
    for session in sessions:
        session.force_login(account)
    get_account_manager().set_user_active(None, account, False)
    for session in sessions:
        assert session.get(reverse("useraccounts:account")).status_code == 302


@pytest.mark.parametrize("target", ["/a\nb", "/a\rb", "/a\x00b", "/\u2028x", "/x\t"])
def test_control_characters_in_next_are_encoded_not_injected(client, account, target):
    for url, data in (
        (LOGIN, {"login": account.email, "password": PASSWORD}),
        (reverse("useraccounts:logout"), {}),
    ):
        client.force_login(account)
        response = client.post(url, {**data, "next": target})
        assert response.status_code == 302
        location = response["Location"]
        assert location.startswith("/") and not any(c in location for c in "\r\n\x00")
