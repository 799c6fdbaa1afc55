"""The email page: add, confirm, make primary, re-send and remove addresses."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import create_account, link_in
from useraccounts.exceptions import EmailAddressError
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
EMAIL = reverse("useraccounts:email")


def act(client, action, email):
    return client.post(EMAIL, {"email": email, action: ""})


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_add_confirm_and_make_primary(logged_in, account, mailoutbox, signals):
    page = logged_in.get(EMAIL)
    assert "bob@example.com" in page.content.decode()
    response = act(logged_in, "action_add", "Bob.Work@Example.com")
    assert response.status_code == 302 and response["Location"] == EMAIL
    added = EmailAddress.objects.get(email="bob.work@example.com")
    assert (added.user, added.verified, added.primary) == (account, False, False)
    assert signals.names() == ["email_confirmation_sent", "email_added"]
    signals.assert_once("email_added", user=account, email_address=added)
    signals.assert_once("email_confirmation_sent", user=account, email_address=added, signup=False)
    assert mailoutbox[0].to == ["bob.work@example.com"]
    listed = logged_in.get(EMAIL).content.decode()
    assert "bob.work@example.com" in listed and "not confirmed" in listed

    # Not yet verified: it cannot become primary.
    refused = act(logged_in, "action_primary", "bob.work@example.com")
    assert "Confirm this address before" in str(refused.context["form"].errors)

    assert logged_in.post(link_in(mailoutbox[0])).status_code == 302
    signals.clear()
    old = EmailAddress.objects.get(email="bob@example.com")
    assert act(logged_in, "action_primary", "bob.work@example.com").status_code == 302
    added.refresh_from_db()
    old.refresh_from_db()
    account.refresh_from_db()
    assert added.primary and not old.primary
    assert account.email == "bob.work@example.com"
    signals.assert_once(
        "email_changed", user=account, from_email_address=old, to_email_address=added
    )
    # The user logs in with either address; the old one can now be removed.
    assert act(logged_in, "action_remove", "bob@example.com").status_code == 302
    signals.assert_once("email_removed", user=account, email_address=old)
    assert list(EmailAddress.objects.values_list("email", flat=True)) == ["bob.work@example.com"]


def test_remove_refuses_the_primary_and_the_last_verified(logged_in, account, signals):
    response = act(logged_in, "action_remove", "bob@example.com")
    assert "make another one primary first" in str(response.context["form"].errors)
    second = EmailAddress.objects.create(user=account, email="b2@example.com", verified=True)
    EmailAddress.objects.filter(email="bob@example.com").update(verified=False)
    response = act(logged_in, "action_remove", "b2@example.com")
    assert "only confirmed address" in str(response.context["form"].errors)
    assert EmailAddress.objects.filter(pk=second.pk).exists()
    assert "email_removed" not in signals.names()


def test_an_address_of_another_account_reveals_nothing(logged_in, account, mailoutbox, signals):
    carol = create_account("carol", "carol@example.com")
    taken = act(logged_in, "action_add", "carol@example.com")
    free = act(logged_in, "action_add", "free@example.com")
    assert (taken.status_code, taken["Location"]) == (free.status_code, free["Location"])
    follow = logged_in.get(EMAIL)
    shown = messages_of(follow)
    assert shown == [
        "We sent a confirmation link to carol@example.com.",
        "We sent a confirmation link to free@example.com.",
    ]
    # Both are listed alike, as unconfirmed: the list tells nothing either.
    page = follow.content.decode()
    page = page[page.index('class="ua-addresses"') :]
    for email in ("carol@example.com", "free@example.com"):
        row = page[page.index(email) :][:400]
        assert "not confirmed" in row, row
    mine = EmailAddress.objects.get(email="carol@example.com", user=account)
    assert not mine.verified
    assert EmailAddress.objects.get(email="carol@example.com", user=carol).verified
    # Carol gets a notice, not a link; the free address gets its link.
    assert [m.to for m in mailoutbox] == [["carol@example.com"], ["free@example.com"]]
    assert "to another account" in mailoutbox[0].body
    assert "/confirm-email/" not in mailoutbox[0].body
    assert [k["email_address"].email for k in signals.of("email_added")] == [
        "carol@example.com",
        "free@example.com",
    ]
    assert [k["email_address"].email for k in signals.of("email_confirmation_sent")] == [
        "free@example.com"
    ]


def test_add_rules(logged_in, account, settings):
    response = act(logged_in, "action_add", "BOB@example.com")
    assert "already on your account" in str(response.context["form"].errors)
    settings.USERACCOUNTS_MAX_EMAIL_ADDRESSES = 2
    act(logged_in, "action_add", "two@example.com")
    response = act(logged_in, "action_add", "three@example.com")
    assert "as many addresses as an account may have" in str(response.context["form"].errors)
    for bad in ("", "not-an-address", "a\x00@example.com", "x" * 300 + "@example.com"):
        response = act(logged_in, "action_add", bad)
        assert response.status_code == 200 and response.context["form"].errors
    assert EmailAddress.objects.filter(user=account).count() == 2


def test_resend_for_an_unverified_address(logged_in, account, mailoutbox, settings):
    EmailAddress.objects.create(user=account, email="new@example.com")
    assert act(logged_in, "action_send", "new@example.com").status_code == 302
    assert mailoutbox[0].to == ["new@example.com"]
    response = act(logged_in, "action_send", "bob@example.com")
    assert "already confirmed" in str(response.context["form"].errors)
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_email": "1/10m/key"}
    assert act(logged_in, "action_send", "new@example.com").status_code == 429


def test_another_users_address_is_not_yours(logged_in, account, signals):
    create_account("carol", "carol@example.com")
    for action in ("action_remove", "action_send", "action_primary"):
        response = act(logged_in, action, "carol@example.com")
        assert "not on your account" in str(response.context["form"].errors)
    assert EmailAddress.objects.filter(email="carol@example.com").exists()
    # Each refusal is a failure signal, and "send" is also a confirmation not sent.
    assert [(k["action"], k["error_type"]) for k in signals.of("email_address_failed")] == [
        ("remove", "not_found"),
        ("send", "not_found"),
        ("primary", "not_found"),
    ]
    for kwargs in signals.of("email_address_failed"):
        assert (kwargs["user"], kwargs["email"]) == (account, "carol@example.com")
        assert isinstance(kwargs["exception"], EmailAddressError)
    signals.assert_once(
        "email_confirmation_send_failed",
        email="carol@example.com",
        user=account,
        error_type="user_not_found",
        exception=EmailAddressError,
    )
    assert set(signals.names()) == {"email_address_failed", "email_confirmation_send_failed"}


def test_a_post_without_an_action_is_refused(logged_in):
    response = logged_in.post(EMAIL, {"email": "bob@example.com"})
    assert "Choose what to do" in str(response.context["form"].errors)


def test_email_page_needs_csrf(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert client.post(EMAIL, {"email": "x@example.com", "action_add": ""}).status_code == 403
    assert EmailAddress.objects.count() == 1


def test_manager_from_code(account, signals, mailoutbox):
    manager = get_account_manager()
    address = manager.add_email(None, account, "code@example.com")
    assert address.pk and mailoutbox[0].to == ["code@example.com"]
    with pytest.raises(EmailAddressError) as raised:
        manager.set_primary_email(None, account, address)
    assert raised.value.code == "not_verified"
    manager.mark_email_verified(None, address)
    manager.set_primary_email(None, account, address)
    assert get_user_model().objects.get(pk=account.pk).email == "code@example.com"
    manager.remove_email(None, account, "bob@example.com")
    assert signals.one("email_removed")["request"] is None


def test_sending_a_link_to_an_undeliverable_address_says_so(logged_in, account, signals):
    EmailAddress.objects.create(user=account, email="gone@example.com", undeliverable=True)
    response = act(logged_in, "action_send", "gone@example.com")
    assert "bounced before" in str(response.context["form"].errors)
    failed = signals.one("email_address_failed")
    assert (failed["action"], failed["error_type"]) == ("send", "undeliverable")
    sent = signals.one("email_confirmation_send_failed")
    assert (sent["email"], sent["error_type"]) == ("gone@example.com", "undeliverable")


def test_a_receiver_that_raises_makes_an_add_an_unexpected_exception(
    logged_in, account, signals, failing_receiver
):
    from useraccounts import signals as ua_signals

    failing_receiver(ua_signals.email_added, "raise")
    response = act(logged_in, "action_add", "new@example.com")
    assert "Something went wrong on our side" in str(response.context["form"].errors)
    assert not EmailAddress.objects.filter(email="new@example.com").exists()  # rolled back
    failed = signals.one("email_address_failed")
    assert (failed["action"], failed["error_type"]) == ("add", "unexpected_exception")
    assert isinstance(failed["exception"], RuntimeError)
