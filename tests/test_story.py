"""The whole first story as a person lives it: sign up, read the email, confirm, log in,
log out, with every signal it sends, in order."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import PASSWORD, link_in
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db


def signup_data(**overrides):
    data = {
        "username": "alice",
        "email": "Alice@Example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    if not has_username():
        del data["username"]
    return {**data, **overrides}


def test_sign_up_confirm_log_in_and_out(client, mailoutbox, signals):
    User = get_user_model()
    # The signup page shows the form the contract names.
    page = client.get(reverse("useraccounts:signup"))
    assert page.status_code == 200
    for name in ("email", "password1", "password2"):
        assert f'name="{name}"' in page.content.decode()
    assert ('name="username"' in page.content.decode()) is has_username()

    response = client.post(reverse("useraccounts:signup"), signup_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("useraccounts:confirmation_sent")
    user = User.objects.get()
    assert user.email == "alice@example.com"
    address = EmailAddress.objects.get()
    assert (address.email, address.primary, address.verified) == ("alice@example.com", True, False)
    username = "alice" if has_username() else None
    assert signals.names() == [
        "user_registration_started",
        "user_pre_register",
        "user_password_set",
        "email_confirmation_sent",
        "user_signed_up",
    ]
    signals.assert_once("user_registration_started", username=username, email="Alice@Example.com")
    signals.assert_once("user_pre_register", username=username, email="alice@example.com")
    signals.assert_once("user_password_set", user=user)
    signals.assert_once("email_confirmation_sent", user=user, email_address=address, signup=True)
    signals.assert_once("user_signed_up", user=user)

    # Until confirmed, the account cannot log in, and the page offers a new link.
    refused = client.post(
        reverse("useraccounts:login"), {"login": "alice@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 200
    assert "Confirm your email address" in refused.content.decode()
    assert 'action="/accounts/confirm-email/resend/"' in refused.content.decode()
    assert "_auth_user_id" not in client.session

    # The email carries one link; GET only shows a form, POST confirms.
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@example.com"]
    link = link_in(message)
    assert link.startswith("http://testserver/accounts/confirm-email/")
    signals.clear()
    shown = client.get(link)
    assert shown.status_code == 200
    assert "alice@example.com" in shown.content.decode()
    assert '<form method="post" novalidate>' in shown.content.decode()
    # This browser signed up: it confirms without the password, and the page names the
    # account it confirms for.
    assert 'name="password"' not in shown.content.decode()
    address.refresh_from_db()
    assert not address.verified
    assert signals.names() == []

    confirmed = client.post(link)
    assert confirmed.status_code == 302
    address.refresh_from_db()
    assert address.verified and address.verified_at is not None
    assert signals.names() == ["email_confirmed"]
    signals.assert_once("email_confirmed", user=user, email_address=address)

    # Log in by email, in any case.
    signals.clear()
    response = client.post(
        reverse("useraccounts:login"), {"login": "ALICE@example.COM", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert signals.names() == [
        "user_authentication_started",
        "user_password_checked",
        "user_logged_in",
    ]
    signals.assert_once("user_authentication_started", username="ALICE@example.COM")
    signals.assert_once("user_password_checked", user=user, success=True)
    signals.assert_once("user_logged_in", user=user)
    home = client.get("/")
    assert "alice@example.com" in home.content.decode()

    # Logging out takes a POST; a GET only asks.
    signals.clear()
    assert client.get(reverse("useraccounts:logout")).status_code == 200
    assert "_auth_user_id" in client.session
    response = client.post(reverse("useraccounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert signals.names() == ["user_logged_out"]
    signals.assert_once("user_logged_out", user=user)
    signals.assert_no_secret(PASSWORD, link.rstrip("/").rsplit("/", 1)[1])


@pytest.mark.skipif(not has_username(), reason="the user model has no username field")
def test_log_in_by_username(client, signals):
    from tests.conftest import create_account

    user = create_account("carol", "carol@example.com")
    response = client.post(reverse("useraccounts:login"), {"login": "carol", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    signals.assert_once("user_logged_in", user=user)
