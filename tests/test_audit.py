"""The optional audit app records a whole account's life from the public signals, with
nothing secret in its rows."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD, link_in
from tests.test_story import signup_data
from useraccounts.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
NEW = "a brand new passphrase"
NEWER = "an even newer passphrase"


def token_of(link):
    return link.rstrip("/").rsplit("/", 1)[1]


def story(mailoutbox) -> list[str]:
    """Sign up, confirm, log in, change the password, log out, reset it, log in, delete.
    Returns the tokens of the links followed."""
    client = Client(HTTP_USER_AGENT="Audit Browser/1.0")
    client.post(reverse("useraccounts:signup"), signup_data())
    confirm = link_in(mailoutbox[-1])
    client.post(confirm)
    login = reverse("useraccounts:login")
    client.post(login, {"login": "alice@example.com", "password": "not it"})
    client.post(login, {"login": "alice@example.com", "password": PASSWORD})
    change = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    client.post(reverse("useraccounts:password_change"), change)
    client.post(reverse("useraccounts:logout"))
    client.post(reverse("useraccounts:password_reset"), {"email": "alice@example.com"})
    reset = link_in(mailoutbox[-1])
    form_url = client.get(reset)["Location"]
    client.post(form_url, {"new_password1": NEWER, "new_password2": NEWER})
    client.post(login, {"login": "alice@example.com", "password": NEWER})
    client.post(reverse("useraccounts:account_delete"), {"password": NEWER})
    return [token_of(confirm), reset.rstrip("/").rsplit("/", 1)[1]]


EXPECTED = [
    ("user_registration_started", "started"),
    ("user_pre_register", "success"),
    ("user_password_set", "success"),
    ("email_confirmation_sent", "success"),
    ("user_signed_up", "success"),
    ("email_confirmed", "success"),
    ("user_authentication_started", "started"),
    ("user_password_checked", "failure"),
    ("user_authentication_failed", "failure"),
    ("user_authentication_started", "started"),
    ("user_password_checked", "success"),
    ("user_logged_in", "success"),
    ("user_password_checked", "success"),
    ("user_password_set", "success"),
    ("password_changed", "success"),
    ("user_logged_out", "success"),
    ("password_reset_request_started", "started"),
    ("password_reset_request_processed", "success"),
    ("password_reset_started", "started"),
    ("user_password_set", "success"),
    ("password_reset", "success"),
    ("user_authentication_started", "started"),
    ("user_password_checked", "success"),
    ("user_logged_in", "success"),
    ("user_deletion_started", "started"),
    ("user_password_checked", "success"),
    ("user_deleted", "success"),
]


def test_a_whole_story_is_recorded_without_secrets(mailoutbox):
    tokens = story(mailoutbox)
    rows = list(AuditEvent.objects.order_by("id"))
    assert [(row.event, row.outcome) for row in rows] == EXPECTED
    for row in rows:
        text = " ".join(str(getattr(row, f.attname)) for f in AuditEvent._meta.fields)
        for secret in (PASSWORD, NEW, NEWER, *tokens):
            assert secret not in text, (row.event, secret)
        assert row.ip == "127.0.0.1"
        assert row.user_agent == "Audit Browser/1.0"
        assert row.user_id is None  # the account is gone; the words stay
    failed = next(r for r in rows if r.event == "user_authentication_failed")
    assert failed.detail["reason"] == "incorrect_password"
    assert failed.detail["exception"] == "AuthenticationError"
    assert failed.detail["username"] == "alice@example.com"
    reset_started = next(r for r in rows if r.event == "password_reset_started")
    assert reset_started.detail == {"token_prefix": tokens[1][:10]}
    deleted = rows[-1]
    assert deleted.user_repr in ("alice", "alice@example.com")
    assert not get_user_model().objects.exists()


def test_prune_keeps_recent_events(mailoutbox):
    story(mailoutbox)
    total = AuditEvent.objects.count()
    AuditEvent.objects.filter(event="user_registration_started").update(
        created_at=timezone.now() - timedelta(days=40)
    )
    out = StringIO()
    call_command("useraccounts_prune_audit", "--days", "30", stdout=out)
    assert "Deleted 1 audit event(s) older than 30 day(s)." in out.getvalue()
    assert AuditEvent.objects.count() == total - 1
    with pytest.raises(CommandError, match="at least 1"):
        call_command("useraccounts_prune_audit", "--days", "0")


def test_the_audit_admin_is_read_only(client, mailoutbox):
    story(mailoutbox)
    User = get_user_model()
    fields = {"email": "admin@example.com", "password": "x-admin-password-x"}
    if "username" in [f.name for f in User._meta.fields]:
        fields["username"] = "admin"
    client.force_login(User.objects.create_superuser(**fields))
    changelist = reverse("admin:useraccounts_audit_auditevent_changelist")
    page = client.get(changelist, {"outcome__exact": "failure"})
    assert page.status_code == 200
    shown = {(event.event, event.outcome) for event in page.context["cl"].result_list}
    assert shown == {
        ("user_authentication_failed", "failure"),
        ("user_password_checked", "failure"),
    }
    event = AuditEvent.objects.first()
    assert (
        client.post(
            reverse("admin:useraccounts_audit_auditevent_delete", args=[event.pk])
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:useraccounts_audit_auditevent_add")).status_code == 403


def test_odd_input_is_recorded_safely(client):
    response = client.post(reverse("useraccounts:signup"), signup_data(email="a\x00b@example.com"))
    assert response.status_code == 200  # a form error, not a broken request
    started = AuditEvent.objects.get(event="user_registration_started")
    assert started.detail["email"] == "a\ufffdb@example.com"
    failed = AuditEvent.objects.get(event="user_registration_failed")
    assert (failed.outcome, failed.detail["error_type"]) == ("failure", "validation_error")


@pytest.mark.django_db
def test_a_malformed_forwarded_address_still_records_the_event(client, settings):
    """A proxy chain the client wrote junk into: the row keeps the real peer address."""
    settings.USERACCOUNTS_TRUSTED_PROXY_COUNT = 1
    client.post(
        reverse("useraccounts:login"),
        {"login": "nobody@example.com", "password": "x"},
        HTTP_X_FORWARDED_FOR="not-an-ip",
        REMOTE_ADDR="192.0.2.7",
    )
    event = AuditEvent.objects.get(event="user_authentication_failed")
    assert event.ip == "192.0.2.7"
