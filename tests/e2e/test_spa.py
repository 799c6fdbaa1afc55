"""The single-page front end of the demo site (``/spa/``, testproject/static/spa/) in a
real browser: a client of the JSON API only (session cookie and CSRF token), whose
emailed links lead back to it (``USERACCOUNTS_FRONTEND_URLS``). Every view the story
meets passes axe-core's WCAG 2.1 A and AA rules at a laptop's and a phone's width, in
both colour schemes, and fits a 320 px screen: the checks of conftest.py, which are
imported, not copied, except its "no script" rule (this page is nothing but script)."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from tests.conftest import link_in
from tests.e2e.conftest import Check
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db(transaction=True)
FIRST, SECOND, THIRD = "a first long passphrase", "a second long passphrase", "a third passphrase!"
FRONTEND_URLS = {
    "confirm_email": "/spa/#/confirm/{token}",
    "password_reset_confirm": "/spa/#/reset/{uidb64}/{token}",
}
API = "/api/accounts/"


class SpaCheck(Check):
    """conftest.py's ``page.check`` for a page made by JavaScript."""

    scriptless = False


@pytest.fixture
def spa(page, live_server, settings, axe_script, request):
    """conftest.py's page (rate limits off, emailed links to the live server), with the
    emailed links leading to the front end, ``check`` for its views and a log of every
    request the page makes."""
    settings.USERACCOUNTS_FRONTEND_URLS = FRONTEND_URLS
    page.spa_check = SpaCheck(page, request.node.name, axe_script)
    page.requests = []
    page.on("request", lambda request: page.requests.append(request))
    return page


def assert_only_the_api_was_used(page, base: str) -> None:
    """The page loaded itself and its two static files once, then spoke JSON to the API:
    each POST with the CSRF token, never a form posted or a page of the app loaded."""
    documents, calls = [], []
    for request in page.requests:
        assert request.url.startswith(base), request.url
        path = urlsplit(request.url).path
        if request.resource_type == "document":
            documents.append(path)
        elif path.startswith(API):
            calls.append((request.method, path[len(API) :]))
            assert request.resource_type == "fetch", request.url
            if request.method != "GET":
                headers = request.headers
                assert headers.get("x-csrftoken"), (path, headers)
                if request.post_data:
                    assert headers["content-type"] == "application/json", path
        else:
            assert path in ("/static/spa/spa.js", "/static/spa/spa.css"), path
    assert set(documents) == {"/spa/"}, documents
    assert ("POST", "signup") in calls and ("POST", "email/confirm") in calls
    assert ("GET", "csrf") in calls


def fill_signup(page, email: str, password1: str, password2: str) -> None:
    if has_username():
        page.get_by_label("Username").fill("alice")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password1)
    page.get_by_label("Password (again)").fill(password2)
    page.get_by_role("button", name="Sign up").click()


def login_label() -> str:
    return "Username or email address" if has_username() else "Email address"


def log_in(page, login: str, password: str) -> None:
    page.get_by_label(login_label()).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()


def field_error(page, name: str):
    return page.locator(f"#field-{name}").get_by_role("alert")


def test_the_whole_story_in_the_single_page_front_end(live_server, spa, mailoutbox):
    from playwright.sync_api import expect

    page, check, base = spa, spa.spa_check, live_server.url
    User = get_user_model()
    heading = page.get_by_role("heading", level=1)

    page.goto(f"{base}/spa/#/signup")
    expect(heading).to_have_text("Sign up")
    expect(page).to_have_title("Sign up · Accounts demo")
    expect(page.get_by_label("Password", exact=True)).to_have_attribute(
        "aria-describedby", re.compile("help")
    )
    check("signup")

    # The API's errors, each beside the field it names.
    fill_signup(page, "not-an-address", FIRST, "another passphrase")
    expect(field_error(page, "email")).to_contain_text("Enter a valid email address")
    expect(field_error(page, "password2")).to_be_visible()
    email = page.get_by_label("Email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    assert "-error" in email.get_attribute("aria-describedby")
    error_y = field_error(page, "email").bounding_box()["y"]
    assert error_y > email.bounding_box()["y"]  # below its field
    assert not User.objects.exists() and not mailoutbox
    check("signup-errors")

    fill_signup(page, "alice@example.com", FIRST, FIRST)
    expect(heading).to_have_text("Check your inbox")
    expect(page.get_by_role("main")).to_contain_text("We sent a link to alice@example.com")
    user = User.objects.get()
    address = EmailAddress.objects.get()
    assert (address.user_id, address.verified) == (user.pk, False)
    assert address.email == "alice@example.com"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    check("signed-up")

    # The emailed link leads to the front end; the token leaves the address bar.
    link = link_in(mailoutbox[0])
    token = re.fullmatch(rf"{re.escape(base)}/spa/#/confirm/([^/\s]+)", link)
    assert token, link
    page.goto(link)
    expect(heading).to_have_text("Confirm your email address")
    account = " alice" if has_username() else ""
    expect(page.get_by_role("main")).to_contain_text(
        f"Confirm that alice@example.com is the email address of the account{account}."
    )
    # This browser signed up: the API asks no password.
    expect(page.get_by_label("Password of this account")).to_have_count(0)
    assert page.url == f"{base}/spa/#/confirm"
    check("confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(heading).to_have_text("Log in")
    expect(page.get_by_role("status")).to_have_text("alice@example.com is confirmed.")
    address.refresh_from_db()
    assert address.verified

    # A refused login says why above the form; the field keeps what was typed.
    expect(page.get_by_label(login_label())).to_have_value("alice@example.com")
    log_in(page, "alice@example.com", "not the password")
    form_alert = page.get_by_role("form", name="Log in").get_by_role("alert")
    expect(form_alert).to_contain_text("password")
    expect(form_alert).to_be_focused()
    assert not Session.objects.exists()
    check("login-refused")
    log_in(page, "alice@example.com", FIRST)
    expect(heading).to_have_text("Your account")
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text(f"Logged in as {'alice' if has_username() else 'alice@'}")
    addresses = page.get_by_role("list", name="The addresses of your account")
    expect(addresses.get_by_role("listitem")).to_have_count(1)
    expect(addresses).to_contain_text("Primary")
    expect(addresses).to_contain_text("Confirmed")
    session = Session.objects.get()
    assert session.get_decoded()["_auth_user_id"] == str(user.pk)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies["sessionid"] == session.session_key  # a browser: the cookie
    check("account")

    # Change the password: a wrong current password beside its field, then for real.
    banner.get_by_role("link", name="Change password").click()
    expect(heading).to_have_text("Change your password")
    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password", exact=True).fill(SECOND)
    page.get_by_label("New password (again)").fill(SECOND)
    page.get_by_role("button", name="Save").click()
    expect(field_error(page, "old_password")).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    check("password-change-errors")
    page.get_by_label("Current password").fill(FIRST)
    page.get_by_role("button", name="Save").click()
    expect(heading).to_have_text("Your account")
    expect(page.get_by_role("status").first).to_contain_text("Your password is changed")
    user.refresh_from_db()
    assert user.check_password(SECOND)
    assert page.request.get(f"{base}{API}session").status == 200  # still logged in here

    # Add an address: one already on the account is refused beside the field.
    new_address = page.get_by_label("New email address")
    new_address.fill("ALICE@example.com")
    page.get_by_role("button", name="Add").click()
    # The API names no field for this one ("already_yours", field null): above the form.
    add_form = page.get_by_role("form", name="Add an email address")
    expect(add_form.get_by_role("alert")).to_contain_text("already on your account")
    expect(new_address).to_have_value("ALICE@example.com")
    check("add-address-error")
    new_address.fill("alice.work@example.com")
    page.get_by_role("button", name="Add").click()
    expect(addresses.get_by_role("listitem")).to_have_count(2)
    work = addresses.get_by_role("listitem").filter(has_text="alice.work@example.com")
    expect(work).to_contain_text("Not confirmed yet")
    expect(page.get_by_role("status").last).to_have_text(
        "We sent a confirmation link to alice.work@example.com."
    )
    expect(add_form.get_by_role("alert")).to_be_hidden()
    added = EmailAddress.objects.get(email="alice.work@example.com")
    assert (added.user_id, added.verified, added.primary) == (user.pk, False, False)
    assert mailoutbox[-1].to == ["alice.work@example.com"]
    check("address-added")

    # Log out: the session ends on the server.
    banner.get_by_role("button", name="Log out").click()
    expect(heading).to_have_text("Log in")
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(banner).not_to_contain_text("Logged in as")
    assert not Session.objects.filter(session_key=session.session_key).exists()
    assert page.request.get(f"{base}{API}session").status == 401

    # Forgot the password: ask for a link, follow it to the front end.
    page.get_by_role("link", name="Forgot your password?").click()
    expect(heading).to_have_text("Reset your password")
    page.get_by_label("Email address").fill("alice@example.com")
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If this address can receive it")
    assert mailoutbox[-1].to == ["alice@example.com"]
    check("reset-requested")
    link = link_in(mailoutbox[-1])
    assert re.fullmatch(rf"{re.escape(base)}/spa/#/reset/[^/\s]+/[^/\s]+", link), link
    page.goto(link)
    expect(heading).to_have_text("Choose a new password")
    assert page.url == f"{base}/spa/#/reset/new"
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password (again)").fill("other")
    page.get_by_role("button", name="Save my new password").click()
    expect(field_error(page, "new_password2")).to_be_visible()
    user.refresh_from_db()
    assert user.check_password(SECOND)  # nothing changed yet
    check("new-password-errors")
    page.get_by_label("New password", exact=True).fill(THIRD)
    page.get_by_label("New password (again)").fill(THIRD)
    page.get_by_role("button", name="Save my new password").click()
    expect(heading).to_have_text("Log in")
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    user.refresh_from_db()
    assert user.check_password(THIRD)

    # The link is single-use.
    page.goto(link)
    expect(heading).to_have_text("This link does not work")
    expect(page.get_by_role("alert")).to_be_visible()
    check("reset-link-used")

    banner.get_by_role("link", name="Log in", exact=True).click()
    log_in(page, "alice@example.com", SECOND)
    expect(page.get_by_role("form", name="Log in").get_by_role("alert")).to_be_visible()
    log_in(page, "alice@example.com", THIRD)
    expect(heading).to_have_text("Your account")
    assert Session.objects.get().get_decoded()["_auth_user_id"] == str(user.pk)
    assert_only_the_api_was_used(page, base)


def test_a_link_opened_in_another_browser_asks_for_the_password_in_the_spa(
    live_server, spa, new_page, mailoutbox, axe_script, request
):
    """The confirmation link opened elsewhere: the API says the password is needed, the
    page asks for it; a wrong one is refused beside the field."""
    from playwright.sync_api import expect

    base = live_server.url
    spa.goto(f"{base}/spa/#/signup")
    fill_signup(spa, "alice@example.com", FIRST, FIRST)
    expect(spa.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    phone = new_page("phone", viewport={"width": 390, "height": 844})
    check = SpaCheck(phone, f"{request.node.name}-phone", axe_script)
    phone.goto(link_in(mailoutbox[0]))
    password = phone.get_by_label("Password of this account")
    expect(password).to_be_visible()
    check("confirm-asks-password")
    password.fill("not my password")
    phone.get_by_role("button", name="Confirm").click()
    expect(phone.locator("#field-password").get_by_role("alert")).to_contain_text(
        "password of this account"
    )
    expect(password).to_have_attribute("aria-invalid", "true")
    assert not EmailAddress.objects.get().verified
    check("confirm-wrong-password")
    password.fill(FIRST)
    phone.get_by_role("button", name="Confirm").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(phone.get_by_role("status")).to_have_text("alice@example.com is confirmed.")
    assert EmailAddress.objects.get().verified


def test_a_broken_link_and_an_unknown_view_lead_on_in_the_spa(live_server, spa):
    from playwright.sync_api import expect

    base = live_server.url
    spa.goto(f"{base}/spa/#/confirm/1-abc-0123456789")
    expect(spa.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(spa.get_by_role("alert")).not_to_be_empty()
    expect(spa.get_by_role("link", name="Get a new confirmation link")).to_be_visible()
    spa.spa_check("confirm-invalid")
    spa.goto(f"{base}/spa/#/reset/MQ/1-abc-def")
    expect(spa.get_by_role("heading", level=1)).to_have_text("This link does not work")
    spa.goto(f"{base}/spa/#/account")
    expect(spa.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(spa.get_by_role("status")).to_have_text("Log in first.")
    spa.goto(f"{base}/spa/#/nowhere")
    expect(spa.get_by_role("heading", level=1)).to_have_text("Page not found")
