"""The whole story in a real browser, as a person lives it; errors next to their fields;
the keyboard alone is enough; every page, in every state the story meets, passes
axe-core's WCAG 2.1 A and AA rules at a laptop's and a phone's width, light and dark,
and fits a 320 px screen (``page.check``, in conftest.py)."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD, create_account
from useraccounts.models import EmailAddress
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
    check = page.check
    page.goto(f"{base}/")
    check("home-logged-out")
    sign_up(page, base, before_submit=lambda: check("signup"))
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    check("confirmation-sent")

    page.goto(link_in(mailoutbox))
    # This browser signed up: the page names the account and asks for no password.
    expect(
        page.get_by_text("Confirm that alice@example.com is the email address of the account")
    ).to_be_visible()
    expect(page.get_by_label("Password of this account")).to_have_count(0)
    check("confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/accounts/login/")
    expect(page.get_by_text("alice@example.com is confirmed.")).to_be_visible()
    check("confirmed")

    log_in(page, base, "alice@example.com", FIRST)
    header = page.get_by_role("banner")
    expect(header.get_by_text("Logged in as")).to_be_visible()
    expect(header.get_by_role("link", name="Email addresses")).to_be_visible()
    check("home-logged-in")

    page.get_by_role("banner").get_by_role("link", name="Account", exact=True).click()
    page.wait_for_url(f"{base}/accounts/account/")
    check("account")

    page.goto(f"{base}/accounts/password/change/")
    page.get_by_label("Current password").fill(FIRST)
    page.get_by_label("New password", exact=True).fill(SECOND)
    page.get_by_label("New password (again)").fill(SECOND)
    check("password-change")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/accounts/password/change/done/")
    check("password-changed")

    page.goto(f"{base}/accounts/logout/")
    check("logout")
    page.get_by_role("main").get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_text("You are not logged in.")).to_be_visible()

    page.goto(f"{base}/accounts/password/reset/")
    page.get_by_label("Email address").fill("alice@example.com")
    check("password-reset")
    page.get_by_role("button", name="Send me a reset link").click()
    page.wait_for_url(f"{base}/accounts/password/reset/done/")
    check("password-reset-sent")
    page.goto(link_in(mailoutbox))
    assert page.url.endswith("/set-password/")  # the token left the address bar
    page.get_by_label("New password", exact=True).fill(THIRD)
    page.get_by_label("New password (again)").fill(THIRD)
    check("new-password")
    page.get_by_role("button", name="Save my new password").click()
    page.wait_for_url(f"{base}/accounts/password/reset/complete/")
    check("reset-complete")

    log_in(page, base, "alice@example.com", THIRD)
    page.goto(f"{base}/accounts/account/delete/")
    page.get_by_label("Your password").fill(THIRD)
    check("delete")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_text("Your account is deleted.")).to_be_visible()
    check("deleted")
    assert not get_user_model().objects.exists()


def test_the_email_page(live_server, page, mailoutbox):
    """Addresses in every state; an address already on the account is refused below the
    field, which keeps what was typed; each action answers on the same page."""
    from playwright.sync_api import expect

    base = live_server.url
    user = create_account("bob", "bob@example.com")
    EmailAddress.objects.create(user=user, email="bob.work@example.com", verified=True)
    EmailAddress.objects.create(
        user=user, email="a.very.long.address.for.a.small.screen@subdomain.example.com"
    )
    EmailAddress.objects.create(user=user, email="bob.old@example.com", undeliverable=True)
    log_in(page, base, "bob@example.com", PASSWORD)
    page.goto(f"{base}/accounts/email/")
    check = page.check
    check("email")
    addresses = page.get_by_role("list", name="The addresses of your account")
    expect(addresses.get_by_role("listitem")).to_have_count(4)

    page.get_by_label("Email address").fill("BOB@example.com")
    page.get_by_role("button", name="Add").click()
    field = page.locator("#field-email")
    expect(field.get_by_role("alert")).to_contain_text("already on your account")
    expect(page.get_by_label("Email address")).to_have_value("BOB@example.com")
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    assert "id_email_error" in page.get_by_label("Email address").get_attribute("aria-describedby")
    # Below the field, not above its label.
    label_y = page.locator("label[for=id_email]").bounding_box()["y"]
    error_y = field.get_by_role("alert").bounding_box()["y"]
    assert error_y > page.get_by_label("Email address").bounding_box()["y"] > label_y
    check("email-add-error")

    bob = addresses.get_by_role("listitem").filter(has_text="bob@example.com")
    expect(bob.get_by_role("button")).to_have_count(0)  # primary: nothing to do with it
    work = addresses.get_by_role("listitem").filter(has_text="bob.work@example.com")
    buttons = work.get_by_role("button")
    expect(buttons).to_have_count(2)
    widths = {round(buttons.nth(i).bounding_box()["width"]) for i in range(2)}
    assert len(widths) == 1, f"the action buttons differ in width: {widths}"
    remove = work.get_by_role("button", name="Remove")
    assert "danger" in remove.get_attribute("class")
    remove.click()
    page.wait_for_url(f"{base}/accounts/email/")
    expect(page.get_by_role("status")).to_contain_text("bob.work@example.com is removed")
    check("email-removed")

    page.get_by_label("Email address").fill("bob.new@example.com")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text("We sent a confirmation link")
    assert mailoutbox[-1].to == ["bob.new@example.com"]
    check("email-added")


def test_errors_show_next_to_their_fields(live_server, page):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/signup/")
    # The password rules show before the first try, tied to the field.
    rules = page.locator("#id_password1_helptext")
    expect(rules).to_contain_text("at least 8 characters")
    described = page.get_by_label("Password", exact=True).get_attribute("aria-describedby")
    assert "id_password1_helptext" in described
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
    for field in page.locator(".field").all():
        errors = field.get_by_role("alert")
        if errors.count():
            assert errors.bounding_box()["y"] > field.locator("input").bounding_box()["y"]
    page.check("signup-errors")


def test_every_other_page(live_server, page, mailoutbox, settings):
    """The pages the story does not meet, each in the state a person finds it in."""
    from playwright.sync_api import expect

    base = live_server.url
    check = page.check
    create_account("bob", "bob@example.com")
    create_account("carol", "carol@example.com", verified=False)

    page.goto(f"{base}/accounts/login/")
    check("login")
    page.get_by_label("Username or email address").fill("bob@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("login-errors")
    page.get_by_label("Username or email address").fill("carol@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Your email address")).to_have_value("carol@example.com")
    check("login-unconfirmed")

    page.goto(f"{base}/accounts/confirm-email/resend/")
    expect(page).to_have_title("Get a new confirmation link")
    check("resend")
    page.get_by_role("button", name="Send a new confirmation link").click()
    expect(page.locator("#field-email").get_by_role("alert")).to_be_visible()
    check("resend-errors")

    page.goto(f"{base}/accounts/confirm-email/1-abc-0123456789/")
    check("confirm-invalid")
    page.goto(f"{base}/accounts/password/reset/MQ/1-abc-def/")
    check("reset-invalid")

    page.goto(f"{base}/accounts/logout/")
    check("logout-logged-out")

    page.goto(f"{base}/accounts/password/reset/")
    page.get_by_label("Email address").fill("bob@example.com")
    page.get_by_role("button", name="Send me a reset link").click()
    page.wait_for_url(f"{base}/accounts/password/reset/done/")
    page.goto(link_in(mailoutbox))
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password (again)").fill("other")
    page.get_by_role("button", name="Save my new password").click()
    expect(page.locator("#field-new_password2").get_by_role("alert")).to_be_visible()
    check("new-password-errors")

    log_in(page, base, "bob@example.com", PASSWORD)
    page.goto(f"{base}/accounts/password/change/")
    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password", exact=True).fill("1234")
    page.get_by_label("New password (again)").fill("1234")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-old_password").get_by_role("alert")).to_be_visible()
    check("password-change-errors")
    page.goto(f"{base}/accounts/account/delete/")
    page.get_by_label("Your password").fill("not it")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#field-password").get_by_role("alert")).to_be_visible()
    check("delete-errors")
    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/")

    # The 429 page, then the 503 page: each says what happened and leads on.
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "1/5m/key"}
    for _ in range(2):  # not bob's address: this browser has his device cookie
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Username or email address").fill("nobody@example.com")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    check("rate-limited")
    page.get_by_role("link", name="Back to the page").click()
    page.wait_for_url(f"{base}/accounts/login/")
    settings.USERACCOUNTS_RATE_LIMITS = False

    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    sign_up_as_dave(page, base)
    expect(page.get_by_role("heading", name="Temporarily unavailable")).to_be_visible()
    check("unavailable")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    settings.USERACCOUNTS_SIGNUP_OPEN = False
    page.goto(f"{base}/accounts/signup/")
    check("signup-closed")


def sign_up_as_dave(page, base):
    page.goto(f"{base}/accounts/signup/")
    if has_username():
        page.get_by_label("Username").fill("dave")
    page.get_by_label("Email address").fill("dave@example.com")
    page.get_by_label("Password", exact=True).fill(FIRST)
    page.get_by_label("Password (again)").fill(FIRST)
    page.get_by_role("button", name="Sign up").click()


def test_the_stylesheet_is_served_and_used(live_server, page):
    page.goto(f"{live_server.url}/accounts/login/")
    href = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert href.endswith("/useraccounts/useraccounts.css")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.ok and response.headers["content-type"].startswith("text/css")
    # Light by default, dark where the visitor asks for it.
    background = "() => getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="light")
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(background)
    assert light != dark and "rgba(0, 0, 0, 0)" not in (light, dark)


def test_the_keyboard_alone_is_enough(live_server, page, mailoutbox):
    page.goto(f"{live_server.url}/accounts/signup/")
    values = (["carol"] if has_username() else []) + ["carol@example.com", FIRST, FIRST]
    page.keyboard.press("Tab")  # into the page: the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # past the header: the first field comes first
    assert page.evaluate("document.activeElement.tagName") == "INPUT"
    for value in values:
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/accounts/confirm-email/sent/")
    assert mailoutbox[-1].to == ["carol@example.com"]


def test_a_link_opened_in_another_browser_asks_for_the_password(
    live_server, new_page, page, mailoutbox
):
    """Sign up on the laptop, open the emailed link on the phone: the page names the
    account and asks for its password; a wrong one is refused beside the field."""
    from playwright.sync_api import expect

    base = live_server.url
    sign_up(page, base)

    other = new_page("phone", viewport={"width": 390, "height": 844})
    other.goto(link_in(mailoutbox))
    expect(other.get_by_label("Password of this account")).to_be_visible()
    other.check("confirm-asks-password")
    other.get_by_label("Password of this account").fill("not my password")
    other.get_by_role("button", name="Confirm").click()
    expect(other.get_by_text("Type the password of this account")).to_be_visible()
    other.check("confirm-wrong-password")
    other.get_by_label("Password of this account").fill(FIRST)
    other.get_by_role("button", name="Confirm").click()
    other.wait_for_url(f"{base}/accounts/login/")
    expect(other.get_by_text("alice@example.com is confirmed.")).to_be_visible()
