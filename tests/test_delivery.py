"""Delivery feedback: the provider's bounce or complaint, posted to anymail's webhook,
marks the address undeliverable, sends ``email_bounced``, and stops mail to it."""

import base64
import json

import pytest
from django.urls import reverse

from tests.conftest import create_account
from useraccounts.exceptions import UndeliverableAddress
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
WEBHOOK = "/anymail/postmark/tracking/"
AUTH = "Basic " + base64.b64encode(b"demo:demo-webhook-secret").decode()

# Postmark's bounce webhook, as its documentation shows it.
POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "useraccounts",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"user_id": "1"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message "
    "(ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "bob@example.com",
    "From": "accounts@example.com",
    "BouncedAt": "2026-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Reset your password",
}
POSTMARK_COMPLAINT = {
    **POSTMARK_BOUNCE,
    "RecordType": "SpamComplaint",
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
}
POSTMARK_DELIVERY = {
    "RecordType": "Delivery",
    "MessageStream": "outbound",
    "ServerID": 23,
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Recipient": "bob@example.com",
    "Tag": "useraccounts",
    "DeliveredAt": "2026-11-05T16:33:54.9070259Z",
    "Details": "Test delivery webhook details",
}


def post_webhook(client, payload, auth=AUTH):
    return client.post(
        WEBHOOK, data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )


@pytest.mark.parametrize(
    ("payload", "event_type"), [(POSTMARK_BOUNCE, "bounced"), (POSTMARK_COMPLAINT, "complained")]
)
def test_a_bounce_marks_the_address_and_stops_mail(
    client, account, signals, mailoutbox, payload, event_type
):
    assert post_webhook(client, payload).status_code == 200
    address = EmailAddress.objects.get(email="bob@example.com")
    assert address.undeliverable and address.undeliverable_reason == event_type
    signals.assert_once(
        "email_bounced", request=None, user=account, email_address=address, event_type=event_type
    )
    # The next email to it is not sent, and the failure is signalled.
    signals.clear()
    assert (
        client.post(
            reverse("useraccounts:password_reset"), {"email": "bob@example.com"}
        ).status_code
        == 302
    )
    assert mailoutbox == []
    signals.assert_once(
        "password_reset_request_failed",
        email="bob@example.com",
        error_type="email_send_failed",
        exception=UndeliverableAddress,
    )
    with pytest.raises(UndeliverableAddress):
        get_account_manager().send_email_confirmation(None, address)
    # The user sees why on the email page.
    client.force_login(account)
    assert "undeliverable" in client.get(reverse("useraccounts:email")).content.decode()


def test_other_events_and_unknown_addresses_change_nothing(client, account, signals):
    assert post_webhook(client, POSTMARK_DELIVERY).status_code == 200
    assert (
        post_webhook(client, {**POSTMARK_BOUNCE, "Email": "stranger@example.com"}).status_code
        == 200
    )
    assert not EmailAddress.objects.filter(undeliverable=True).exists()
    assert signals.names() == []


def test_the_webhook_needs_its_secret(client, account, signals):
    wrong = "Basic " + base64.b64encode(b"demo:guess").decode()
    assert post_webhook(client, POSTMARK_BOUNCE, auth=wrong).status_code == 400
    assert not EmailAddress.objects.get(email="bob@example.com").undeliverable
    assert signals.names() == []


def test_staff_find_undeliverable_addresses(client, account):
    User = type(account)
    fields = {"email": "admin@example.com", "password": "x-admin-password-x"}
    if "username" in [f.name for f in User._meta.fields]:
        fields["username"] = "admin"
    client.force_login(User.objects.create_superuser(**fields))
    EmailAddress.objects.filter(user=account).update(
        undeliverable=True, undeliverable_reason="bounced"
    )
    changelist = reverse("admin:useraccounts_emailaddress_changelist")
    assert (
        "bob@example.com" in client.get(changelist, {"undeliverable__exact": "1"}).content.decode()
    )
    create_account("carol", "carol@example.com")
    assert (
        "carol@example.com"
        not in client.get(changelist, {"undeliverable__exact": "1"}).content.decode()
    )


def test_a_taken_undeliverable_address_still_looks_like_a_fresh_signup(
    client, signals, mailoutbox
):
    create_account("bob", "bob@example.com")
    EmailAddress.objects.update(undeliverable=True)
    data = {
        "email": "bob@example.com",
        "password1": "a long passphrase",
        "password2": "a long passphrase",
    }
    if "username" in client.get(reverse("useraccounts:signup")).content.decode():
        data["username"] = "newbob"
    response = client.post(reverse("useraccounts:signup"), data)
    assert response.status_code == 302  # as for a free address; no notice is sent
    assert mailoutbox == []
