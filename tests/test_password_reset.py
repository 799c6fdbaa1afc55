"""Resetting a forgotten password by emailed link, as a person does it, and every way it
can fail."""

import logging

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.conftest import PASSWORD, create_account, link_in, visible
from useraccounts import signals as ua_signals
from useraccounts.conf import app_settings
from useraccounts.exceptions import PasswordResetError, PasswordResetRequestError
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
RESET = reverse("useraccounts:password_reset")
NEW = "a brand new passphrase"


def request_reset(client, email="bob@example.com"):
    return client.post(RESET, {"email": email})


def new_password_data(first=NEW, second=None):
    return {"new_password1": first, "new_password2": second if second is not None else first}


def token_of(link):
    return link.rstrip("/").rsplit("/", 1)[1]


def login(client, email, password):
    return client.post(reverse("useraccounts:login"), {"login": email, "password": password})


@pytest.fixture
def reset_link(client, account, mailoutbox, signals):
    request_reset(client)
    link = link_in(mailoutbox[-1])
    signals.clear()
    return link


def test_the_whole_reset_story(client, account, mailoutbox, signals, hash_count):
    page = client.get(RESET)
    assert page.status_code == 200 and 'name="email"' in page.content.decode()
    response = request_reset(client, "BOB@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("useraccounts:password_reset_done")
    assert signals.names() == [
        "password_reset_request_started",
        "password_reset_request_processed",
    ]
    signals.assert_once("password_reset_request_started", email="BOB@example.com")
    signals.assert_once("password_reset_request_processed", email="BOB@example.com", user=account)

    # The email: one link, text and HTML, tags and metadata for anymail.
    (message,) = mailoutbox
    assert message.to == ["bob@example.com"]
    link = link_in(message)
    assert message.alternatives[0][0].count('href="') == 1 and link in message.alternatives[0][0]
    assert message.tags == ["useraccounts", "password_reset"]
    assert message.metadata == {"user_id": str(account.pk)}
    token = token_of(link)

    # The link moves its token into the session; the form's page has no token in its URL.
    signals.clear()
    moved = client.get(link)
    assert moved.status_code == 302
    assert moved["Location"].endswith("/set-password/")
    assert token not in moved["Location"]
    form_page = client.get(moved["Location"])
    assert form_page.status_code == 200
    assert token not in form_page.content.decode()
    for name in ("new_password1", "new_password2"):
        assert f'name="{name}"' in form_page.content.decode()
    assert signals.names() == []

    before = hash_count()
    done = client.post(moved["Location"], new_password_data())
    assert hash_count() - before == 1
    assert done.status_code == 302
    assert done["Location"] == reverse("useraccounts:password_reset_complete")
    assert signals.names() == ["password_reset_started", "user_password_set", "password_reset"]
    signals.assert_once("password_reset_started", token_prefix=token[:10])
    signals.assert_once("user_password_set", user=account)
    signals.assert_once("password_reset", user=account)
    assert "_auth_user_id" not in client.session  # not logged in by default

    # The new password works, the old one and the link do not.
    assert login(client, "bob@example.com", NEW).status_code == 302
    client.logout()
    assert login(client, "bob@example.com", PASSWORD).status_code == 200
    signals.clear()
    reused = client.get(link)
    assert reused.status_code == 400
    assert "invalid or has already been used" in reused.content.decode()
    signals.assert_once(
        "password_reset_failed",
        token_prefix=token[:10],
        error_type="invalid_token",
        exception=PasswordResetError,
        user=None,
    )
    signals.assert_no_secret(NEW, PASSWORD, token)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda uid, token: (uid, token[:-1] + ("0" if token[-1] != "0" else "1")),
        lambda uid, token: ("Zm9v", token),  # another user id
        lambda uid, token: ("!!!", token),
        lambda uid, token: (uid, "0-" + token),
        lambda uid, token: (uid, token + "x" * 200),
        lambda uid, token: (uid, "\u0130\u212a"),
    ],
)
def test_a_tampered_link_is_refused(client, account, reset_link, signals, tamper):
    uid, token = reset_link.rstrip("/").rsplit("/", 2)[-2:]
    bad_uid, bad_token = tamper(uid, token)
    url = reverse("useraccounts:password_reset_confirm", args=[bad_uid, bad_token])
    response = client.get(url)
    assert response.status_code == 400
    assert 'action="/accounts/password/reset/"' in response.content.decode()
    signals.assert_once(
        "password_reset_failed",
        token_prefix=bad_token[:10],
        error_type="invalid_token",
        exception=PasswordResetError,
        user=None,
    )
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_an_expired_link_is_refused(client, account, reset_link, signals, clock):
    clock.advance(app_settings.PASSWORD_RESET_TIMEOUT_SECONDS + 1)
    response = client.get(reset_link)
    assert response.status_code == 400
    assert "has expired" in response.content.decode()
    signals.assert_once(
        "password_reset_failed",
        token_prefix=token_of(reset_link)[:10],
        error_type="expired_token",
        exception=PasswordResetError,
        user=account,
    )


def test_the_link_can_expire_while_the_form_is_open(
    client, account, reset_link, signals, clock, settings
):
    settings.USERACCOUNTS_PASSWORD_RESET_TIMEOUT_SECONDS = 600
    form_url = client.get(reset_link)["Location"]
    clock.advance(601)
    response = client.post(form_url, new_password_data())
    assert response.status_code == 400
    assert signals.names() == ["password_reset_started", "password_reset_failed"]
    signals.assert_once(
        "password_reset_failed",
        token_prefix=token_of(reset_link)[:10],
        error_type="expired_token",
        exception=PasswordResetError,
        user=account,
    )
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_the_form_without_a_link_is_refused(client, account, signals):
    uid = "MQ"
    response = client.post(
        reverse("useraccounts:password_reset_confirm", args=[uid, "set-password"]),
        new_password_data(),
    )
    assert response.status_code == 400
    signals.assert_once(
        "password_reset_failed",
        token_prefix="",
        error_type="invalid_token",
        exception=PasswordResetError,
        user=None,
    )
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_opening_the_link_writes_no_session(client, account, reset_link):
    """The token moves from the URL into a cookie scoped to the form's path: nothing is
    written, so no fault can strike after the page has answered."""
    response = client.get(reset_link)
    form_url = response["Location"]
    assert token_of(reset_link) not in form_url
    cookie = response.cookies["useraccounts_reset"]
    assert cookie["path"] == form_url and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert token_of(reset_link) in cookie.value  # signed, not encrypted: it is the token
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()
    assert client.get(form_url).status_code == 200
    response = client.post(form_url, new_password_data())
    assert response.status_code == 302
    assert response.cookies["useraccounts_reset"]["max-age"] == 0  # forgotten


def test_a_token_cookie_works_for_its_own_link_only(client, account, reset_link):
    """An attacker who plants the cookie of their own reset link on a victim's form
    path (or copies it to another account's) gets nothing: the signature names the user."""
    other = create_account("carol", "carol@example.com")
    client.get(reset_link)
    stolen = client.cookies["useraccounts_reset"].value
    victim_form = reverse(
        "useraccounts:password_reset_confirm",
        args=[urlsafe_base64_encode(force_bytes(other.pk)), "set-password"],
    )
    attacker = Client()
    attacker.cookies["useraccounts_reset"] = stolen
    attacker.cookies["useraccounts_reset"]["path"] = victim_form
    response = attacker.post(victim_form, new_password_data())
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        (new_password_data("12345678"), "new_password1", "too common"),
        (new_password_data(NEW, NEW + "!"), "new_password2", "Type the same password"),
        (new_password_data("", ""), "new_password1", "required"),
        (new_password_data("x\x00" * 5), "new_password1", "Null characters"),
    ],
)
def test_a_refused_new_password_is_a_validation_error(
    client, account, reset_link, signals, data, field, text
):
    form_url = client.get(reset_link)["Location"]
    response = client.post(form_url, data)
    assert response.status_code == 200
    assert text in str(response.context["form"].errors[field])
    signals.assert_once(
        "password_reset_failed",
        token_prefix=token_of(reset_link)[:10],
        error_type="validation_error",
        exception=Exception,
        user=account,
    )
    account.refresh_from_db()
    assert account.check_password(PASSWORD)
    # The link still works for a second try.
    assert client.post(form_url, new_password_data()).status_code == 302


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [("raise", "unexpected_exception"), ("sql", "repository_error")],
)
def test_a_failure_while_saving_rolls_back(
    client, account, reset_link, signals, failing_receiver, failure, error_type
):
    failing_receiver(ua_signals.password_reset, failure)
    form_url = client.get(reset_link)["Location"]
    response = client.post(form_url, new_password_data())
    # A database fault is the infrastructure's (503); a receiver's bug is shown in the form.
    assert response.status_code == (503 if failure == "sql" else 200)
    assert "Something went wrong on our side" in response.content.decode()
    sent = signals.assert_once(
        "password_reset_failed",
        token_prefix=token_of(reset_link)[:10],
        error_type=error_type,
        exception=Exception,
        user=account,
    )
    assert not isinstance(sent["exception"], PasswordResetError)  # the cause itself
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_known_and_unknown_addresses_get_the_same_responses(account, mailoutbox, signals):
    def story(email):
        client = Client()
        form = client.get(RESET)
        posted = client.post(RESET, {"email": email})
        return visible([form, posted, client.get(posted["Location"])])

    assert story("bob@example.com") == story("nobody@example.com")
    # One mail each, so both cost the same work: a link for the account, a note that
    # no account has the address for the other.
    assert [m.to for m in mailoutbox] == [["bob@example.com"], ["nobody@example.com"]]
    assert "/password/reset/" in mailoutbox[0].body
    assert "no account has this address" in mailoutbox[1].body
    assert link_in(mailoutbox[1]).endswith(reverse("useraccounts:signup"))
    failed = signals.assert_once(
        "password_reset_request_failed",
        email="nobody@example.com",
        error_type="user_not_found",
        exception=PasswordResetRequestError,
    )
    assert failed["exception"].code == "user_not_found"


def test_no_email_for_inactive_or_unrecorded_secondary_addresses(client, mailoutbox, signals):
    inactive = create_account("ina", "ina@example.com", is_active=False)
    owner = create_account("own", "own@example.com")
    EmailAddress.objects.create(user=owner, email="typo@example.com", verified=False)
    for email in ("ina@example.com", "typo@example.com"):
        assert request_reset(client, email).status_code == 302
    # Each gets the note that no account has it, never a reset link.
    assert [m.to for m in mailoutbox] == [["ina@example.com"], ["typo@example.com"]]
    assert not [m for m in mailoutbox if "/password/reset/" in link_in(m)]
    assert [k["error_type"] for k in signals.of("password_reset_request_failed")] == [
        "user_not_found",
        "user_not_found",
    ]
    assert inactive.pk


def test_following_the_link_verifies_an_unverified_primary_address(client, mailoutbox, signals):
    user = create_account(verified=False)
    request_reset(client)
    form_url = client.get(link_in(mailoutbox[0]))["Location"]
    signals.clear()
    client.post(form_url, new_password_data())
    address = EmailAddress.objects.get()
    assert address.verified and address.verified_at
    signals.assert_once("email_confirmed", user=user, email_address=address)
    assert login(client, "bob@example.com", NEW).status_code == 302


def test_email_backend_down_shows_the_usual_page(client, account, settings, signals, caplog):
    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    caplog.set_level(logging.INFO)
    response = request_reset(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("useraccounts:password_reset_done")
    signals.assert_once(
        "password_reset_request_failed",
        email="bob@example.com",
        error_type="email_send_failed",
        exception=Exception,
    )
    assert "Could not send the password_reset email to b***@example.com" in caplog.text
    assert "bob@example.com" not in caplog.text  # addresses in logs are masked
    assert "/password/reset/" not in caplog.text


def test_a_failing_receiver_is_an_unexpected_exception(client, account, signals, failing_receiver):
    failing_receiver(ua_signals.password_reset_request_processed, "raise")
    assert request_reset(client).status_code == 302
    signals.assert_once(
        "password_reset_request_failed",
        email="bob@example.com",
        error_type="unexpected_exception",
        exception=RuntimeError,
    )


def test_reset_requests_are_rate_limited(client, account, settings, signals, clock, mailoutbox):
    settings.USERACCOUNTS_RATE_LIMITS = {"reset_password": "2/15m/key"}
    request_reset(client)
    request_reset(client)
    signals.clear()
    limited = request_reset(client)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    signals.assert_once(
        "password_reset_request_failed",
        email="bob@example.com",
        error_type="rate_limited",
        exception=Exception,
    )
    assert len(mailoutbox) == 2
    clock.advance(900)
    assert request_reset(client).status_code == 302
    assert len(mailoutbox) == 3


def test_other_sessions_end_after_a_reset(account, mailoutbox):
    elsewhere = Client()
    assert login(elsewhere, "bob@example.com", PASSWORD).status_code == 302
    resetter = Client()
    request_reset(resetter)
    form_url = resetter.get(link_in(mailoutbox[0]))["Location"]
    resetter.post(form_url, new_password_data())
    page = elsewhere.get(reverse("useraccounts:password_change"))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


def test_login_on_reset_when_the_setting_says_so(client, account, reset_link, settings, signals):
    settings.USERACCOUNTS_LOGIN_ON_PASSWORD_RESET = True
    form_url = client.get(reset_link)["Location"]
    assert client.post(form_url, new_password_data()).status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)
    assert signals.names()[-1] == "user_logged_in"


def test_an_account_without_a_password_can_reset(client, mailoutbox):
    user = create_account()
    user.set_unusable_password()
    user.save()
    request_reset(client)
    form_url = client.get(link_in(mailoutbox[0]))["Location"]
    client.post(form_url, new_password_data())
    assert login(client, "bob@example.com", NEW).status_code == 302


def test_manager_from_code(account, mailoutbox, signals):
    manager = get_account_manager()
    manager.request_password_reset(None, email="bob@example.com")
    link = link_in(mailoutbox[0])
    assert link.startswith("http://testserver/accounts/password/reset/")
    uidb64, token = link.rstrip("/").rsplit("/", 2)[-2:]
    user = manager.reset_password(None, uidb64=uidb64, token=token, new_password=NEW)
    assert user == account and user.check_password(NEW)
    signals.assert_once("password_reset", request=None, user=account)
    with pytest.raises(PasswordResetError) as raised:
        manager.reset_password(None, uidb64=uidb64, token=token, new_password=NEW)
    assert raised.value.code == "invalid_token"
    with pytest.raises(PasswordResetRequestError) as raised:
        manager.request_password_reset(None, email="nobody@example.com")
    assert raised.value.code == "user_not_found"
    assert get_user_model().objects.count() == 1


def test_notes_for_unknown_addresses_can_be_turned_off(client, settings, mailoutbox, signals):
    settings.USERACCOUNTS_NOTIFY_UNKNOWN_ADDRESSES = False
    assert request_reset(client, "nobody@example.com").status_code == 302
    assert mailoutbox == []
    assert signals.one("password_reset_request_failed")["error_type"] == "user_not_found"


def test_no_signal_of_a_reset_carries_the_new_password(client, account, reset_link, signals):
    """The reset saves with one conditional UPDATE, not save(): the raw password that
    set_password() keeps on the instance must not ride along to the receivers."""
    form_url = client.get(reset_link)["Location"]
    assert client.post(form_url, new_password_data()).status_code == 302
    assert signals.names()[-1] == "password_reset"
    signals.assert_no_secret(NEW)
