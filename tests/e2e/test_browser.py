"""The whole story in a real browser, as a person lives it; errors next to their fields;
the keyboard alone is enough."""

import re

import pytest
from django.contrib.auth import get_user_model

from useraccounts.users import has_username

pytestmark = pytest.mark.django_db(transaction=True)
FIRST, SECOND, THIRD = "a first long passphrase", "a second long passphrase", "a third passphrase!"


def link_in(mailoutbox) -> str:
    return re.findall(r"https?://\S+", mailoutbox[-1].body)[0]


def sign_up(page, base, before_submit=lambda: None):
    """Alice signs up with the first passphrase and lands on "check your inbox"."""
    page.goto(f"{base}/accounts/signup/")
    if has_username():
        page.get_by_label("Username").fill("alice")
    page.get_by_label("Email address").fill("alice@example.com")
    page.get_by_label("Password", exact=True).fill(FIRST)
    page.get_by_label("Password (again)").fill(FIRST)
    before_submit()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/accounts/confirm-email/sent/")


def log_in(page, base, email, password):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username or email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def test_the_whole_story(live_server, page, mailoutbox):
    from playwright.sync_api import expect

    base = live_server.url
    shot = page.shots
    sign_up(page, base, before_submit=lambda: shot("signup"))
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    shot("confirmation-sent")

    page.goto(link_in(mailoutbox))
    # This browser signed up: the page names the account and asks for no password.
    expect(
        page.get_by_text("Confirm that alice@example.com is the email address of the account")
    ).to_be_visible()
    expect(page.get_by_label("Password of this account")).to_have_count(0)
    shot("confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/accounts/login/")
    expect(page.get_by_text("alice@example.com is confirmed.")).to_be_visible()
    shot("confirmed")

    log_in(page, base, "alice@example.com", FIRST)
    expect(page.get_by_text("Logged in as")).to_be_visible()
    shot("home-logged-in")

    page.goto(f"{base}/accounts/password/change/")
    page.get_by_label("Current password").fill(FIRST)
    page.get_by_label("New password", exact=True).fill(SECOND)
    page.get_by_label("New password (again)").fill(SECOND)
    shot("password-change")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/accounts/password/change/done/")
    shot("password-changed")

    page.goto(f"{base}/accounts/logout/")
    shot("logout")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_text("You are not logged in.")).to_be_visible()

    page.goto(f"{base}/accounts/password/reset/")
    page.get_by_label("Email address").fill("alice@example.com")
    shot("password-reset")
    page.get_by_role("button", name="Send me a reset link").click()
    page.wait_for_url(f"{base}/accounts/password/reset/done/")
    page.goto(link_in(mailoutbox))
    assert page.url.endswith("/set-password/")  # the token left the address bar
    page.get_by_label("New password", exact=True).fill(THIRD)
    page.get_by_label("New password (again)").fill(THIRD)
    shot("new-password")
    page.get_by_role("button", name="Save my new password").click()
    page.wait_for_url(f"{base}/accounts/password/reset/complete/")
    shot("reset-complete")

    log_in(page, base, "alice@example.com", THIRD)
    page.goto(f"{base}/accounts/account/delete/")
    page.get_by_label("Your password").fill(THIRD)
    shot("delete")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_text("Your account is deleted.")).to_be_visible()
    shot("deleted")
    assert not get_user_model().objects.exists()


def test_errors_show_next_to_their_fields(live_server, page):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/signup/")
    if has_username():
        page.get_by_label("Username").fill("bob")
    page.get_by_label("Email address").fill("not-an-address")
    page.get_by_label("Password", exact=True).fill("12345678")
    page.get_by_label("Password (again)").fill("87654321")
    page.get_by_role("button", name="Sign up").click()
    email_field = page.locator("#field-email")
    expect(email_field.get_by_role("alert")).to_contain_text("Enter a valid email address")
    expect(page.locator("#field-password2").get_by_role("alert")).to_contain_text(
        "Type the same password in both fields"
    )
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    described = page.get_by_label("Email address").get_attribute("aria-describedby")
    assert "id_email_error" in described
    page.shots("signup-errors")


def test_the_keyboard_alone_is_enough(live_server, page, mailoutbox):
    page.goto(f"{live_server.url}/accounts/signup/")
    values = (["carol"] if has_username() else []) + ["carol@example.com", FIRST, FIRST]
    page.keyboard.press("Tab")  # into the page: the first field comes first
    while page.evaluate("document.activeElement.tagName") != "INPUT":
        page.keyboard.press("Tab")
    for value in values:
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/accounts/confirm-email/sent/")
    assert mailoutbox[-1].to == ["carol@example.com"]


def test_a_link_opened_in_another_browser_asks_for_the_password(
    live_server, browser, page, mailoutbox
):
    """Sign up on the laptop, open the emailed link on the phone: the page names the
    account and asks for its password; a wrong one is refused beside the field."""
    from playwright.sync_api import expect

    base = live_server.url
    sign_up(page, base)

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    other = phone.new_page()
    other.shots = type(page.shots)(other, "test_a_link_opened_in_another_browser")
    other.goto(link_in(mailoutbox))
    expect(other.get_by_label("Password of this account")).to_be_visible()
    other.shots("confirm-asks-password")
    other.get_by_label("Password of this account").fill("not my password")
    other.get_by_role("button", name="Confirm").click()
    expect(other.get_by_text("Type the password of this account")).to_be_visible()
    other.shots("confirm-wrong-password")
    other.get_by_label("Password of this account").fill(FIRST)
    other.get_by_role("button", name="Confirm").click()
    other.wait_for_url(f"{base}/accounts/login/")
    expect(other.get_by_text("alice@example.com is confirmed.")).to_be_visible()
    phone.close()
