"""Properties every page has: CSRF on each POST, a fixed number of queries per flow,
nothing secret in the logs."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from tests.test_story import signup_data
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

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


def test_queries_per_flow(client, mailoutbox, django_assert_num_queries):
    # Counts include the savepoints of the test's own transaction.
    with django_assert_num_queries(0):
        client.get(reverse("useraccounts:signup"))
    # uniqueness of username (where the model has one) and email, 2 inserts, savepoint pair
    with django_assert_num_queries(6 if has_username() else 5):
        client.post(reverse("useraccounts:signup"), signup_data())
    link = link_in(mailoutbox[0])
    with django_assert_num_queries(1):
        client.get(link)
    with django_assert_num_queries(4):  # locked read, update, savepoint pair
        client.post(link)
    login = reverse("useraccounts:login")
    with django_assert_num_queries(1):
        client.post(login, {"login": "alice@example.com", "password": "wrong"})
    with django_assert_num_queries(2):  # by address, then by username (which may hold "@")
        client.post(login, {"login": "nobody@example.com", "password": "wrong"})
    with django_assert_num_queries(11):  # 1 lookup, the rest is Django's session and login
        client.post(login, {"login": "alice@example.com", "password": PASSWORD})


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


def test_queries_per_reset_flow(client, account, mailoutbox, django_assert_num_queries):
    reset = reverse("useraccounts:password_reset")
    with django_assert_num_queries(3):  # one lookup in a savepoint pair
        client.post(reset, {"email": "bob@example.com"})
    # the same, rolled back; without a username field, the user model's email is tried too
    with django_assert_num_queries(4 if has_username() else 5):
        client.post(reset, {"email": "nobody@example.com"})
    with django_assert_num_queries(5):  # the user, then a new session
        form_url = client.get(link_in(mailoutbox[0]))["Location"]
    with django_assert_num_queries(2):  # the session, the user
        client.get(form_url)
    new = "a new passphrase, long"
    with django_assert_num_queries(9):  # session, locked user, update, address, session
        client.post(form_url, {"new_password1": new, "new_password2": new})
