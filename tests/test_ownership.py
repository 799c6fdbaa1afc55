"""Only a verified address belongs to an account: the attacks of a pre-hijacker and a
squatter, told as two browsers (the attacker's and the victim's) and the victim's inbox,
and the honest paths that must keep working. See docs/security.rst, "Who owns an
address"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.conftest import PASSWORD, create_account, link_in
from useraccounts.models import EmailAddress, normalize_email
from useraccounts.users import has_username

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "the attacker's own passphrase"
SIGNUP = reverse("useraccounts:signup")
LOGIN = reverse("useraccounts:login")
EMAIL_PAGE = reverse("useraccounts:email")
RESET = reverse("useraccounts:password_reset")

pytestmark = pytest.mark.django_db

needs_username = pytest.mark.skipif(not has_username(), reason="no username field")
needs_email_login = pytest.mark.skipif(has_username(), reason="the email is the login")


def sign_up(client: Client, username: str, email: str, password: str = PASSWORD):
    data = {"email": email, "password1": password, "password2": password}
    if has_username():
        data["username"] = username
    return client.post(SIGNUP, data)


def log_in(client: Client, login: str, password: str = PASSWORD) -> int:
    return client.post(LOGIN, {"login": login, "password": password}).status_code


def links_to(mailoutbox, email: str) -> list[str]:
    return [link_in(m) for m in mailoutbox if m.to == [email] and "/confirm-email/" in m.body]


def holders(email: str) -> list[tuple[object, bool]]:
    return [(row.user_id, row.verified) for row in EmailAddress.objects.filter(email=email)]


@pytest.fixture(params=["mandatory", "optional"])
def mode(request, settings):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = request.param
    return request.param


# --- 1. Pre-hijacking --------------------------------------------------------------------


@needs_username
def test_pre_hijacking_fails(mode, mailoutbox, signals):
    attacker, victim = Client(), Client()
    # The attacker signs up first with the victim's address and a password of their own.
    assert sign_up(attacker, "mallory", VICTIM, ATTACKER_PASSWORD).status_code == 302
    mallory = get_user_model().objects.get(username="mallory")
    # Later the victim signs up with the address: an ordinary signup with its own link.
    assert sign_up(victim, "victor", VICTIM).status_code == 302
    victor = get_user_model().objects.get(username="victor")
    attackers_link, victims_link = links_to(mailoutbox, VICTIM)

    # The victim follows the attacker's link: the page names the attacker's account and
    # asks for its password; without it nothing is confirmed.
    page = victim.get(attackers_link).content.decode()
    assert "“mallory”" in page and 'name="password"' in page
    refused = victim.post(attackers_link)
    assert refused.status_code == 400
    assert "Type the password of this account" in refused.content.decode()
    assert holders(VICTIM) == [(mallory.pk, False), (victor.pk, False)]
    failed = signals.of("user_email_verification_failed")[-1]
    assert (failed["error_type"], failed["user"]) == ("incorrect_password", mallory)

    # The victim confirms their own account in their own browser, with no password:
    # the attacker's row goes, and with it the attacker's links.
    assert victim.post(victims_link).status_code == 302
    assert holders(VICTIM) == [(victor.pk, True)]
    removed = signals.of("email_removed")[-1]
    assert (removed["user"].get_username(), removed["email_address"].email) == ("mallory", VICTIM)
    if mode == "mandatory":  # a signup that waited for this address only is gone
        assert not get_user_model().objects.filter(pk=mallory.pk).exists()
        assert signals.of("user_deleted")[-1]["user_id"] == mallory.pk
    else:  # it logged in: it stays, without the address
        mallory.refresh_from_db()
        assert mallory.email == ""
    assert attacker.post(attackers_link).status_code == 400

    # The attacker's password opens nothing with the victim's address...
    assert log_in(Client(), VICTIM, ATTACKER_PASSWORD) == 200
    assert log_in(Client(), VICTIM) == 302
    # ...and a reset for it reaches the victim's account only.
    mailoutbox.clear()
    Client().post(RESET, {"email": VICTIM})
    assert len(mailoutbox) == 1
    assert f"/{_uid(victor)}/" in link_in(mailoutbox[0])
    # In "optional" mode the attacker was logged in from the start: still only as an
    # account that holds nothing of the victim's.
    if mode == "optional":
        page = attacker.get(EMAIL_PAGE).content.decode()
        assert VICTIM not in page


@needs_email_login
def test_pre_hijacking_fails_where_the_email_is_the_login(settings, mailoutbox, signals):
    """The user table holds one account per address: the victim's signup replaces the
    attacker's, which never confirmed and never logged in."""
    attacker, victim = Client(), Client()
    assert sign_up(attacker, "", VICTIM, ATTACKER_PASSWORD).status_code == 302
    pending = get_user_model().objects.get(email=VICTIM)
    assert sign_up(victim, "", VICTIM).status_code == 302
    signals.assert_once("user_deleted", user_id=pending.pk, username=VICTIM)
    account = get_user_model().objects.get(email=VICTIM)
    assert account.pk != pending.pk and account.check_password(PASSWORD)
    attackers_link, victims_link = links_to(mailoutbox, VICTIM)
    assert victim.post(attackers_link).status_code == 400  # that account is gone
    assert victim.post(victims_link).status_code == 302
    assert log_in(Client(), VICTIM, ATTACKER_PASSWORD) == 200
    assert log_in(Client(), VICTIM) == 302


@needs_email_login
def test_an_attackers_signup_cannot_take_the_victims_pending_one(mailoutbox):
    """The other way round: the attacker signs up after the victim. The victim's browser
    no longer confirms (its row is gone) and the attacker's account asks for the
    attacker's password, so the victim resets it through the mailbox and owns it."""
    victim, attacker = Client(), Client()
    sign_up(victim, "", VICTIM)
    sign_up(attacker, "", VICTIM, ATTACKER_PASSWORD)
    victims_link, attackers_link = links_to(mailoutbox, VICTIM)
    assert victim.post(victims_link).status_code == 400
    assert victim.post(attackers_link, {"password": PASSWORD}).status_code == 400
    assert not EmailAddress.objects.filter(verified=True).exists()
    mailoutbox.clear()
    victim.post(RESET, {"email": VICTIM})
    form_url = victim.get(link_in(mailoutbox[0]))["Location"]
    new = "the victim's new passphrase"
    victim.post(form_url, {"new_password1": new, "new_password2": new})
    assert holders(VICTIM)[0][1] is True  # following the link proved the mailbox
    assert log_in(Client(), VICTIM, ATTACKER_PASSWORD) == 200
    assert log_in(Client(), VICTIM, new) == 302


# --- 2. Squatting ------------------------------------------------------------------------


def test_squatting_an_address_reserves_nothing(mode, mailoutbox, signals):
    squatter = create_account("mallory", "mallory@example.com", password=ATTACKER_PASSWORD)
    attacker = Client()
    attacker.force_login(squatter)
    attacker.post(EMAIL_PAGE, {"email": VICTIM, "action_add": ""})
    [squatters_link] = links_to(mailoutbox, VICTIM)
    # Making it primary needs it confirmed.
    attacker.post(EMAIL_PAGE, {"email": VICTIM, "action_primary": ""})
    squatter.refresh_from_db()
    assert squatter.email == "mallory@example.com"

    # Before signing up, the victim asks for a reset: nothing reaches the squatter's
    # account through an address anyone could have added.
    victim = Client()
    mailoutbox.clear()
    victim.post(RESET, {"email": VICTIM})
    assert not [m for m in mailoutbox if "/password/reset/" in m.body]
    # The victim follows the link they did receive: it cannot be confirmed without the
    # squatter's password.
    assert victim.post(squatters_link).status_code == 400
    assert victim.post(squatters_link, {"password": PASSWORD}).status_code == 400

    # The victim signs up: an ordinary signup that makes an account.
    assert sign_up(victim, "victor", VICTIM).status_code == 302
    account = EmailAddress.objects.get(email=VICTIM, primary=True).user
    [victims_link] = links_to(mailoutbox, VICTIM)
    assert victim.post(victims_link).status_code == 302
    assert holders(VICTIM) == [(account.pk, True)]
    assert attacker.post(squatters_link).status_code == 400
    page = attacker.get(EMAIL_PAGE).content.decode()
    assert VICTIM not in page


# --- 4. Look-alikes ----------------------------------------------------------------------


@needs_username
def test_usernames_differ_in_more_than_case(client):
    create_account("Carol", "carol@example.com")
    response = sign_up(client, "carol", "other@example.com")
    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert log_in(Client(), "CAROL") == 302
    assert log_in(Client(), "carol") == 302


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("bob@example.com", "bob@ｅxample.com"),
        ("bob@xn--exmple-cua.com", "bob@exämple.com"),
        ("bob@strasse.de", "bob@straße.de"),
        ("bob@example.com", "BOB@EXAMPLE.COM"),
    ],
)
def test_spellings_that_reach_one_mailbox_are_one_address(stored, typed, mailoutbox):
    assert normalize_email(typed) == stored
    owner = create_account("bob", stored)
    client = Client()
    response = sign_up(client, "bobby", typed)
    # "mandatory" mode hides a taken address: the owner gets a notice, no link.
    assert response.status_code == 302
    assert get_user_model().objects.count() == 1
    assert [m.to for m in mailoutbox] == [[stored]]
    assert "/confirm-email/" not in mailoutbox[0].body
    assert log_in(Client(), typed) == 302
    assert EmailAddress.objects.get().user == owner


# --- 5. Users from before the app --------------------------------------------------------


def test_a_user_from_before_the_app_keeps_the_address_in_any_case(mailoutbox):
    User = get_user_model()
    fields = {"email": "Bob@example.com"}
    if has_username():
        fields["username"] = "oldbob"
    old = User.objects.create_user(password=PASSWORD, **fields)
    client = Client()
    response = sign_up(client, "newbob", "bob@example.com")
    assert response.status_code == 302  # looks like any signup...
    assert User.objects.count() == 1  # ...but makes no second account
    assert log_in(Client(), "bob@example.com") == 302
    assert EmailAddress.objects.get().user == old


# --- "none" mode: no address is ever proven ------------------------------------------------


@needs_username
def test_none_mode_the_victim_still_makes_an_account(settings, mailoutbox):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = "none"
    attacker, victim = Client(), Client()
    sign_up(attacker, "mallory", VICTIM, ATTACKER_PASSWORD)
    assert sign_up(victim, "victor", VICTIM).status_code == 302
    assert "_auth_user_id" in victim.session
    assert log_in(Client(), "victor") == 302
    assert mailoutbox == []  # nothing to confirm in this mode


@needs_email_login
def test_none_mode_where_the_email_is_the_login_first_come_first_served(settings):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = "none"
    sign_up(Client(), "", VICTIM, ATTACKER_PASSWORD)
    response = sign_up(Client(), "", VICTIM)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert get_user_model().objects.count() == 1


# --- Honest paths ----------------------------------------------------------------------


def test_confirm_on_another_device_with_the_password(mailoutbox, signals):
    laptop, phone = Client(), Client()
    sign_up(laptop, "alice", "alice@example.com")
    link = links_to(mailoutbox, "alice@example.com")[0]
    page = phone.get(link).content.decode()
    assert 'name="password"' in page
    if has_username():
        assert "“alice”" in page
    else:
        assert "account created on" in page
    wrong = phone.post(link, {"password": "not it"})
    assert wrong.status_code == 400
    assert EmailAddress.objects.get().verified is False
    assert phone.post(link, {"password": PASSWORD}).status_code == 302
    assert EmailAddress.objects.get().verified is True
    assert signals.names().count("user_password_set") == 2  # signup, then the new salt
    assert log_in(Client(), "alice@example.com") == 302


def test_a_password_confirmation_ends_the_accounts_other_sessions(settings, mailoutbox):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = "optional"
    first = Client()
    sign_up(first, "alice", "alice@example.com")  # logged in at once in this mode
    assert first.get(EMAIL_PAGE).status_code == 200
    other = Client()
    link = links_to(mailoutbox, "alice@example.com")[0]
    assert other.post(link, {"password": PASSWORD}).status_code == 302
    assert first.get(EMAIL_PAGE).status_code == 302  # sent to log in


def test_add_and_confirm_a_second_address_then_log_in_with_either(logged_in, mailoutbox):
    logged_in.post(EMAIL_PAGE, {"email": "second@example.com", "action_add": ""})
    [link] = links_to(mailoutbox, "second@example.com")
    # The browser that added it confirms it and lands back on the email page.
    response = logged_in.post(link)
    assert response["Location"] == EMAIL_PAGE
    assert EmailAddress.objects.get(email="second@example.com").verified
    assert log_in(Client(), "second@example.com") == 302
    assert log_in(Client(), "bob@example.com") == 302
    # The same link in another browser, not logged in, asks for the password.
    logged_in.post(EMAIL_PAGE, {"email": "third@example.com", "action_add": ""})
    [link] = links_to(mailoutbox, "third@example.com")
    assert 'name="password"' in Client().get(link).content.decode()


def test_a_pending_signup_resets_its_password_and_the_link_confirms(mailoutbox):
    sign_up(Client(), "alice", "alice@example.com")
    mailoutbox.clear()
    browser = Client()
    browser.post(RESET, {"email": "alice@example.com"})
    form_url = browser.get(link_in(mailoutbox[0]))["Location"]
    new = "a brand new passphrase"
    assert browser.post(form_url, {"new_password1": new, "new_password2": new}).status_code == 302
    assert EmailAddress.objects.get().verified
    assert log_in(Client(), "alice@example.com", new) == 302


def test_expired_unverified_rows_block_nothing(settings, logged_in):
    settings.USERACCOUNTS_MAX_EMAIL_ADDRESSES = 2
    add = {"email": "new@example.com", "action_add": ""}
    logged_in.post(EMAIL_PAGE, {"email": "old@example.com", "action_add": ""})
    assert "as many addresses" in logged_in.post(EMAIL_PAGE, add).content.decode()
    # Past the confirmation window (3 days by default) the old one counts no more.
    EmailAddress.objects.filter(email="old@example.com").update(
        created_at=timezone.now() - timedelta(days=4)
    )
    assert logged_in.post(EMAIL_PAGE, add).status_code == 302


def _uid(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def test_wrong_passwords_on_a_confirmation_page_are_limited(settings, mailoutbox, signals):
    settings.USERACCOUNTS_RATE_LIMITS = {"confirm_password": "3/5m/user"}
    owner = Client()
    sign_up(owner, "alice", "alice@example.com")
    link = links_to(mailoutbox, "alice@example.com")[0]
    guesser = Client()
    assert [guesser.post(link, {"password": f"guess {n}"}).status_code for n in range(4)] == [
        400,
        400,
        400,
        429,
    ]
    assert signals.of("user_email_verification_failed")[-1]["error_type"] == "rate_limited"
    # The owner's own browser needs no password, so the guesser cannot lock them out.
    assert owner.post(link).status_code == 302
