"""Properties every page has: CSRF on each POST, nothing secret in the logs."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from tests.test_story import signup_data
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("signup", []),
        ("login", []),
        ("logout", []),
        ("resend_confirmation", []),
        ("confirm_email", ["1-abc-def"]),
        ("password_reset", []),
        ("password_reset_confirm", ["MQ", "set-password"]),
        ("password_change", []),
    ],
)
def test_every_post_needs_a_csrf_token(name, args, signals):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse(f"useraccounts:{name}", args=args), signup_data())
    assert response.status_code == 403
    assert signals.names() == []


def test_forms_carry_a_csrf_token(client):
    for name in ("signup", "login", "resend_confirmation", "password_reset"):
        assert (
            "csrfmiddlewaretoken" in client.get(reverse(f"useraccounts:{name}")).content.decode()
        )


def test_no_secret_reaches_the_logs(client, caplog, settings, mailoutbox):
    create_account("bob", "bob@example.com", verified=False)
    caplog.set_level(logging.DEBUG)
    client.post(reverse("useraccounts:login"), {"login": "bob@example.com", "password": PASSWORD})
    client.post(reverse("useraccounts:resend_confirmation"), {"email": "bob@example.com"})
    token = link_in(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    client.post(reverse("useraccounts:signup"), signup_data())
    client.post(reverse("useraccounts:confirm_email", args=[token + "x"]))
    assert "Could not send the email_confirmation email" in caplog.text
    assert f"Bad link in ConfirmEmailView (invalid_token, token {token[:10]}…)" in caplog.text
    assert token not in caplog.text
    assert PASSWORD not in caplog.text
    assert EmailAddress.objects.count() == 1
