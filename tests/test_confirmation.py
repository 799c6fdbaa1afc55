"""Email confirmation: the link, its failures, and asking for a new one."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import create_account, link_in
from tests.test_story import signup_data
from useraccounts import signals as ua_signals
from useraccounts.conf import app_settings
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
RESEND = reverse("useraccounts:resend_confirmation")


@pytest.fixture
def signed_up(client, mailoutbox, signals):
    """A fresh signup: (address, confirmation link)."""
    client.post(reverse("useraccounts:signup"), signup_data())
    signals.clear()
    return EmailAddress.objects.get(), link_in(mailoutbox[0])


def token_of(link):
    return link.rstrip("/").rsplit("/", 1)[1]


def confirm_url(token):
    return reverse("useraccounts:confirm_email", args=[token])


def assert_failed(signals, error_type, token, user=None):
    signals.assert_once(
        "user_email_verification_failed",
        token_prefix=token[:10],
        error_type=error_type,
        exception=Exception,
        user=user,
    )


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # signature changed
        lambda t: "zz" + t[1:],  # another address id
        lambda t: "garbage",
        lambda t: "1-" + "9" * 80,
        lambda t: t + "x" * 200,
        lambda t: "%00%ff-\u0130\u212a-1",
    ],
)
def test_tampered_token_is_refused_once_per_request(client, signed_up, signals, method, tamper):
    address, link = signed_up
    bad = tamper(token_of(link))
    response = getattr(client, method)(confirm_url(bad))
    assert response.status_code == 400
    assert "invalid or has already been used" in response.content.decode()
    assert_failed(signals, "invalid_token", bad)
    address.refresh_from_db()
    assert not address.verified


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_token_is_refused(client, signed_up, signals, clock, method):
    address, link = signed_up
    clock.advance(app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS + 1)
    response = getattr(client, method)(link)
    assert response.status_code == 400
    assert "has expired" in response.content.decode()
    assert_failed(signals, "expired_token", token_of(link), user=address.user)
    address.refresh_from_db()
    assert not address.verified


def test_expiry_follows_the_setting(client, signed_up, signals, clock, settings):
    settings.USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS = 60
    address, link = signed_up
    clock.advance(58)  # tokens keep whole seconds: stay a second off each edge
    assert client.get(link).status_code == 200
    clock.advance(4)
    assert client.get(link).status_code == 400
    assert_failed(signals, "expired_token", token_of(link), user=address.user)


def test_a_used_link_cannot_be_used_again(client, signed_up, signals):
    _address, link = signed_up
    assert client.post(link).status_code == 302
    signals.clear()
    assert client.post(link).status_code == 400
    assert client.get(link).status_code == 400
    assert [k["error_type"] for k in signals.of("user_email_verification_failed")] == [
        "invalid_token",
        "invalid_token",
    ]
    assert "email_confirmed" not in signals.names()


def test_a_failing_receiver_rolls_the_confirmation_back(
    client, signed_up, signals, failing_receiver
):
    address, link = signed_up
    failing_receiver(ua_signals.email_confirmed, "raise")
    response = client.post(link)
    assert response.status_code == 400
    assert_failed(signals, "unexpected_exception", token_of(link))
    address.refresh_from_db()
    assert not address.verified


def test_resend_sends_a_new_link_to_an_unverified_address(client, signed_up, signals, mailoutbox):
    address, _first_link = signed_up
    response = client.post(RESEND, {"email": "ALICE@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("useraccounts:confirmation_sent")
    assert len(mailoutbox) == 2
    signals.assert_once(
        "email_confirmation_sent", user=address.user, email_address=address, signup=False
    )
    assert client.post(link_in(mailoutbox[1])).status_code == 302
    address.refresh_from_db()
    assert address.verified


def test_resend_answers_the_same_for_unknown_and_verified_addresses(
    client, signed_up, signals, mailoutbox
):
    create_account("bob", "bob@example.com", verified=True)
    unknown = client.post(RESEND, {"email": "nobody@example.com"})
    verified = client.post(RESEND, {"email": "bob@example.com"})
    for response in (unknown, verified):
        assert response.status_code == 302
        assert response["Location"] == reverse("useraccounts:confirmation_sent")
    # No link was sent: each address got a note saying why, and each request says why
    # in a failure signal.
    assert [m.to for m in mailoutbox[1:]] == [["nobody@example.com"], ["bob@example.com"]]
    assert "no signup is waiting for it" in mailoutbox[1].body
    assert "already confirmed" in mailoutbox[2].body
    assert link_in(mailoutbox[2]).endswith(reverse("useraccounts:login"))
    assert [
        (k["email"], k["error_type"]) for k in signals.of("email_confirmation_send_failed")
    ] == [
        ("nobody@example.com", "user_not_found"),
        ("bob@example.com", "already_verified"),
    ]
    assert [k["user"] for k in signals.of("email_confirmation_send_failed")] == [
        None,
        get_user_model().objects.get(email="bob@example.com"),
    ]
    assert set(signals.names()) == {"email_confirmation_send_failed"}


def test_resend_per_address_is_rate_limited(client, signed_up, settings, clock, mailoutbox):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_email": "1/10m/key"}
    assert client.post(RESEND, {"email": "alice@example.com"}).status_code == 302
    limited = client.post(RESEND, {"email": "alice@example.com"})
    assert limited.status_code == 429
    assert len(mailoutbox) == 2
    clock.advance(600)
    assert client.post(RESEND, {"email": "alice@example.com"}).status_code == 302
    assert len(mailoutbox) == 3


def test_resend_with_bad_input_shows_a_form_error(client, db):
    for value in ("", "nope", "a\x00@example.com"):
        response = client.post(RESEND, {"email": value})
        assert response.status_code == 200
        assert response.context["form"].errors["email"]


def test_email_has_text_and_html_with_one_absolute_link(signed_up, mailoutbox):
    message = mailoutbox[0]
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    link = link_in(message)
    assert html.count('href="') == 1 and f'href="{link}"' in html
    assert message.tags == ["useraccounts", "email_confirmation"]
    assert message.metadata == {"user_id": str(signed_up[0].user_id)}
    assert "\n" not in message.subject


def test_anymail_sees_tags_and_metadata(client, settings, mailoutbox):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    client.post(reverse("useraccounts:signup"), signup_data())
    params = mailoutbox[0].anymail_test_params
    assert params["tags"] == ["useraccounts", "email_confirmation"]
    assert params["metadata"] == {"user_id": str(EmailAddress.objects.get().user_id)}


def test_manager_verify_email_from_code(signed_up, signals):
    address, link = signed_up
    verified = get_account_manager().verify_email(None, token_of(link))
    assert verified == address and verified.verified
    signals.assert_once("email_confirmed", request=None, user=address.user, email_address=address)


def test_resend_to_an_undeliverable_address_sends_nothing_and_says_why(
    client, signed_up, signals, mailoutbox
):
    EmailAddress.objects.filter(email="alice@example.com").update(undeliverable=True)
    response = client.post(RESEND, {"email": "alice@example.com"})
    assert response["Location"] == reverse("useraccounts:confirmation_sent")  # as always
    assert len(mailoutbox) == 1  # only the signup's: the provider said it bounces
    failed = signals.one("email_confirmation_send_failed")
    assert (failed["email"], failed["error_type"]) == ("alice@example.com", "undeliverable")


def test_a_resend_whose_receiver_raises_answers_as_usual(
    client, signed_up, signals, failing_receiver
):
    failing_receiver(ua_signals.email_confirmation_sent, "raise")
    response = client.post(RESEND, {"email": "alice@example.com"})
    assert response["Location"] == reverse("useraccounts:confirmation_sent")
    failed = signals.one("email_confirmation_send_failed")
    assert (failed["email"], failed["error_type"]) == ("alice@example.com", "unexpected_exception")


def test_a_link_for_an_address_another_account_confirmed_first_is_a_conflict(
    client, signals, mailoutbox
):
    holder = create_account("holder", "shared@example.com")
    latecomer = create_account("latecomer", "late@example.com")
    waiting = EmailAddress.objects.create(user=latecomer, email="shared@example.com")
    get_account_manager().send_email_confirmation(None, waiting)
    client.force_login(latecomer)
    response = client.post(link_in(mailoutbox[-1]))
    assert response.status_code == 409
    assert "confirmed for another account" in response.content.decode()
    failed = signals.one("user_email_verification_failed")
    assert (failed["error_type"], failed["user"]) == ("address_taken", latecomer)
    assert EmailAddress.objects.get(email="shared@example.com", verified=True).user == holder


# "Check your inbox" names the address it sent to, in this browser only -------------------

SENT = reverse("useraccounts:confirmation_sent")


def inbox_page(client):
    """The "check your inbox" page as this browser sees it: (address named, resend
    field's value)."""
    response = client.get(SENT)
    assert response.status_code == 200
    named = response.context["sent_to"]
    return named, response.context["form"]["email"].value()


def test_check_your_inbox_names_the_address_and_fills_the_resend_form(client, db, mailoutbox):
    response = client.post(reverse("useraccounts:signup"), signup_data(), follow=True)
    assert response.redirect_chain == [(SENT, 302)]
    page = response.content.decode()
    assert "We have sent an email to <strong>Alice@Example.com</strong>" in page
    assert 'value="Alice@Example.com"' in page
    signup = reverse("useraccounts:signup")
    assert f'Not your address? <a href="{signup}">Sign up again</a>' in page
    # The cookie goes to that page alone, is out of scripts' reach, and is short-lived.
    cookie = client.cookies["useraccounts_sent"]
    assert cookie["path"] == SENT
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert 0 < int(cookie["max-age"]) <= 3600
    # Another browser, the attacker's, is told nothing about it.
    assert inbox_page(Client()) == (None, None)


def test_a_taken_address_gets_the_same_check_your_inbox_page(client, db, mailoutbox):
    create_account("bob", "bob@example.com", verified=True)
    taken = client.post(
        reverse("useraccounts:signup"),
        signup_data(username="mallory", email="bob@example.com"),
        follow=True,
    )
    fresh = Client().post(
        reverse("useraccounts:signup"),
        signup_data(username="carol", email="carol@example.com"),
        follow=True,
    )
    for response, address in ((taken, "bob@example.com"), (fresh, "carol@example.com")):
        assert response.redirect_chain == [(SENT, 302)]
        assert f"We have sent an email to <strong>{address}</strong>" in response.content.decode()


def test_resend_names_the_address_it_was_asked_for_known_or_not(client, signed_up):
    for email in ("alice@example.com", "nobody@example.com"):
        response = client.post(RESEND, {"email": email}, follow=True)
        assert response.redirect_chain == [(SENT, 302)]
        assert inbox_page(client) == (email, email)


def test_a_tampered_or_stale_sent_cookie_names_nothing(client, signed_up, clock):
    client.post(RESEND, {"email": "alice@example.com"})
    assert inbox_page(client)[0] == "alice@example.com"
    clock.advance(3601)
    assert inbox_page(client) == (None, None)
    client.post(RESEND, {"email": "alice@example.com"})
    value = client.cookies["useraccounts_sent"].value
    for forged in ("mallory@example.com", value.replace("alice", "mallo"), "", "\x00" * 3):
        client.cookies["useraccounts_sent"] = forged
        assert inbox_page(client) == (None, None)
