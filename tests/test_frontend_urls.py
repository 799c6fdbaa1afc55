"""A site whose front end is its own (a single-page or mobile app on the JSON API):
``USERACCOUNTS_FRONTEND_URLS`` sends the emailed confirmation and reset links to the
front end, which posts the token to the API; bad values stop ``manage.py check``
(``useraccounts.E011``). And the session store app tokens need: signed-cookie sessions
cannot hold them (``useraccounts.W005``)."""

from __future__ import annotations

import re

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from django.urls import include, path, reverse

from tests.conftest import PASSWORD, create_account, link_in, login_name
from tests.test_api import NEW, app_login, codes, get, post, reset_parts, token_of
from tests.test_checks import messages
from tests.test_story import signup_data
from useraccounts.conf import app_settings
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress

#: The demo single-page app's templates (testproject's /spa/): paths, joined to the site.
SPA = {
    "confirm_email": "/spa/#/confirm/{token}",
    "password_reset_confirm": "/spa/#/reset/{uidb64}/{token}",
}
#: A front end on another origin.
APP = {
    "confirm_email": "https://app.example.com/confirm#{token}",
    "password_reset_confirm": "https://app.example.com/reset?u={uidb64}#{token}",
}
SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"

#: A URLconf (for ``ROOT_URLCONF``) that includes the API under another instance
#: namespace, one level down.
urlpatterns = [
    path(
        "v2/",
        include([path("accounts/", include("useraccounts.api.urls", namespace="accounts_v2"))]),
    )
]


def links_in(message) -> list[str]:
    """Every link of an email, in its text and its HTML body."""
    html = message.alternatives[0][0]
    return re.findall(r"https?://\S+", message.body) + re.findall(r'href="([^"]+)"', html)


def fragment(link: str, prefix: str) -> str:
    assert link.startswith(prefix), (link, prefix)
    return link.removeprefix(prefix)


# --- confirmation links ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_spa_confirmation_link_is_followed_through_the_api(settings, mailoutbox):
    settings.USERACCOUNTS_FRONTEND_URLS = SPA
    client = Client()
    assert post(client, "signup", signup_data()).status_code == 201
    link = link_in(mailoutbox[0])
    token = fragment(link, "http://testserver/spa/#/confirm/")
    assert set(links_in(mailoutbox[0])) == {link}  # the HTML body's link too

    # What the front end does with it: check, then confirm (this browser signed up).
    check = post(client, "confirm_email_check", {"token": token})
    assert check.status_code == 200, check.content
    assert check.json()["password_required"] is False
    response = post(client, "confirm_email", {"token": token})
    assert response.status_code == 200, response.content
    assert response.json()["email_address"]["verified"] is True
    assert EmailAddress.objects.get().verified


@pytest.mark.django_db
def test_an_absolute_confirmation_link_ignores_the_site_url(settings, mailoutbox):
    settings.USERACCOUNTS_FRONTEND_URLS = APP
    settings.USERACCOUNTS_SITE_URL = "https://example.com"
    user = create_account("carol", "carol@example.com", verified=False)
    get_account_manager().send_email_confirmation(None, EmailAddress.objects.get(user=user))
    token = fragment(link_in(mailoutbox[0]), "https://app.example.com/confirm#")

    # An app on another device: no cookie of the signup, so it proves the account.
    body = {"token": token, "password": PASSWORD, "client": "app"}
    response = post(Client(), "confirm_email", body)
    assert response.status_code == 200, response.content
    assert EmailAddress.objects.get(user=user).verified
    assert codes(post(Client(), "confirm_email", body), 400) == [("invalid_token", None)]


@pytest.mark.django_db
def test_a_path_template_is_joined_to_the_request_host_without_a_site_url(settings, mailoutbox):
    settings.USERACCOUNTS_FRONTEND_URLS = SPA
    settings.USERACCOUNTS_SITE_URL = None
    response = post(Client(), "signup", signup_data(), headers={"host": "localhost"})
    assert response.status_code == 201, response.content
    fragment(link_in(mailoutbox[0]), "http://localhost/spa/#/confirm/")


@pytest.mark.django_db
def test_a_path_template_is_joined_to_the_site_url(settings, mailoutbox):
    settings.USERACCOUNTS_FRONTEND_URLS = SPA
    settings.USERACCOUNTS_SITE_URL = "https://example.com/"
    user = create_account("carol", "carol@example.com", verified=False)
    get_account_manager().send_email_confirmation(None, EmailAddress.objects.get(user=user))
    fragment(link_in(mailoutbox[0]), "https://example.com/spa/#/confirm/")


@pytest.mark.django_db
def test_by_default_the_links_open_the_apps_own_pages(client, mailoutbox):
    assert app_settings.FRONTEND_URLS == {}
    assert post(client, "signup", signup_data()).status_code == 201
    link = link_in(mailoutbox[0])
    token = token_of(link)
    assert link == "http://testserver" + reverse("useraccounts:confirm_email", args=[token])
    assert client.get(link).status_code == 200

    create_account("bob", "bob@example.com")
    assert post(client, "password_reset", {"email": "bob@example.com"}).status_code == 202
    link = link_in(mailoutbox[-1])
    uidb64, token = reset_parts(link)
    path = reverse("useraccounts:password_reset_confirm", args=[uidb64, token])
    assert link == "http://testserver" + path
    assert client.get(link).status_code == 302  # the page keeps the token, then asks


@pytest.mark.django_db
def test_only_the_links_named_go_to_the_front_end(settings, client, mailoutbox):
    settings.USERACCOUNTS_FRONTEND_URLS = {"password_reset_confirm": SPA["password_reset_confirm"]}
    assert post(client, "signup", signup_data()).status_code == 201
    assert "/accounts/confirm-email/" in link_in(mailoutbox[0])


# --- reset links -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("templates", "pattern"),
    [
        (SPA, r"http://testserver/spa/#/reset/([^/]+)/([^/]+)"),
        (APP, r"https://app\.example\.com/reset\?u=([^#]+)#(.+)"),
    ],
)
def test_a_front_end_reset_link_is_followed_through_the_api(
    settings, mailoutbox, signals, templates, pattern
):
    settings.USERACCOUNTS_FRONTEND_URLS = templates
    account = create_account()
    client = Client()
    assert post(client, "password_reset", {"email": "bob@example.com"}).status_code == 202
    link = link_in(mailoutbox[-1])
    assert set(links_in(mailoutbox[-1])) == {link}
    match = re.fullmatch(pattern, link)
    assert match, link
    uidb64, token = match.groups()

    check = post(client, "password_reset_check", {"uidb64": uidb64, "token": token})
    assert check.status_code == 200, check.content
    body = {"uidb64": uidb64, "token": token, "new_password1": NEW, "new_password2": NEW}
    response = post(client, "password_reset_confirm", body)
    assert response.status_code == 200, response.content
    signals.assert_once("password_reset", user=account)
    account.refresh_from_db()
    assert account.check_password(NEW)
    token = app_login(Client(), account, NEW)
    assert get(Client(), "session", token=token).status_code == 200
    assert codes(post(client, "password_reset_confirm", body), 400) == [("invalid_token", None)]


@pytest.mark.django_db
def test_the_reset_link_path_stays_the_apps_page(settings):
    """``reset_link_path`` (the admin's, and tests') is the HTML page's, whatever the
    setting: only emailed links go to the front end."""
    settings.USERACCOUNTS_FRONTEND_URLS = SPA
    link = get_account_manager().reset_link_path(create_account(), None)
    assert link.startswith("/accounts/password/reset/")
    assert Client().get(link).status_code == 302


# --- USERACCOUNTS_FRONTEND_URLS checks (useraccounts.E011) -------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"confirm": "/spa/#/{token}"}, "has the unknown key 'confirm'"),
        ({"confirm_email": "/spa/#/confirm"}, "lacks {token}"),
        ({"password_reset_confirm": "/spa/#/reset/{token}"}, "lacks {uidb64}"),
        ({"password_reset_confirm": "/spa/#/reset/{uid}/{token}"}, "lacks {uidb64} and has {uid}"),
        ({"confirm_email": "/spa/{lang}/#{token}"}, "has {lang}"),
        ({"confirm_email": 42}, "is 42, not a string"),
        ({"confirm_email": None}, "is None, not a string"),
        ({"confirm_email": "spa/#/confirm/{token}"}, "neither an http(s) URL nor a path"),
        ({"confirm_email": "//evil.example/#{token}"}, "neither an http(s) URL nor a path"),
        ({"confirm_email": "ftp://app.example.com/#{token}"}, "neither an http(s) URL nor"),
        (["/spa/#/confirm/{token}"], "not a dict"),
        ("/spa/#/confirm/{token}", "not a dict"),
    ],
)
def test_a_bad_frontend_url_is_an_error_naming_the_setting_and_the_fix(value, problem):
    with override_settings(USERACCOUNTS_FRONTEND_URLS=value):
        found = [m for m in checks.run_checks() if m.id == "useraccounts.E011"]
        with pytest.raises(ImproperlyConfigured, match="USERACCOUNTS_FRONTEND_URLS") as raised:
            app_settings.FRONTEND_URLS  # noqa: B018
    assert len(found) == 1, found
    error = found[0]
    assert isinstance(error, checks.Error)
    assert error.msg.startswith("USERACCOUNTS_FRONTEND_URLS")
    assert problem in error.msg
    assert "USERACCOUNTS_FRONTEND_URLS" in error.hint
    assert re.search(r"Set|Put|Use", error.hint)
    assert problem in str(raised.value)


def test_each_bad_template_gets_its_own_error():
    bad = {"confirm_email": "/spa/", "password_reset_confirm": "/spa/{token}", "x": "/"}
    with override_settings(USERACCOUNTS_FRONTEND_URLS=bad):
        errors = [m for m in checks.run_checks() if m.id == "useraccounts.E011"]
    assert len(errors) == 3
    assert "fragment" in errors[0].hint  # the docs' advice, where it matters


def test_a_bad_frontend_url_stops_manage_py():
    with (
        override_settings(USERACCOUNTS_FRONTEND_URLS={"confirm_email": "/spa/"}),
        pytest.raises(SystemCheckError, match=r"useraccounts\.E011"),
    ):
        call_command("check")


@pytest.mark.parametrize("value", [SPA, APP, {}, None, {"confirm_email": "/c#{token}{token}"}])
def test_good_frontend_urls_pass(value):
    assert "useraccounts.E011" not in messages(USERACCOUNTS_FRONTEND_URLS=value)
    with override_settings(USERACCOUNTS_FRONTEND_URLS=value):
        read = app_settings.FRONTEND_URLS
    assert read == (value or {})


# --- the session store app tokens need (useraccounts.W005) --------------------------------


def test_signed_cookie_sessions_with_the_api_included_are_a_warning():
    found = messages(SESSION_ENGINE=SIGNED_COOKIES)
    warning = found["useraccounts.W005"]
    assert isinstance(warning, checks.Warning)
    assert "SESSION_ENGINE" in warning.msg and "useraccounts.api.urls" in warning.msg
    assert "SESSION_ENGINE" in warning.hint and "backends.db" in warning.hint
    # Under another namespace, one include down: still the API.
    assert "useraccounts.W005" in messages(SESSION_ENGINE=SIGNED_COOKIES, ROOT_URLCONF=__name__)


def test_signed_cookie_sessions_without_the_api_pass():
    """A site that serves only the HTML pages may keep its signed-cookie sessions."""
    found = messages(SESSION_ENGINE=SIGNED_COOKIES, ROOT_URLCONF="useraccounts.urls")
    assert "useraccounts.W005" not in found


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.cache",
    ],
)
def test_stored_sessions_with_the_api_pass(engine):
    assert "useraccounts.W005" not in messages(SESSION_ENGINE=engine)


@pytest.mark.django_db
def test_why_an_app_token_needs_a_session_store(settings):
    """What W005 warns of: with signed-cookie sessions the "token" an app gets at login
    is the signed session itself, no key of a stored session: the API refuses it, so
    the app cannot stay logged in (and no logout could have ended it)."""
    settings.SESSION_ENGINE = SIGNED_COOKIES
    account = create_account()
    body = {"login": login_name(account), "password": PASSWORD, "client": "app"}
    response = post(Client(), "login", body)
    assert response.status_code == 200, response.content
    token = response.json()["session_token"]
    assert codes(get(Client(), "session", token=token), 401) == [("not_authenticated", None)]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"  # with a store, it works
    assert get(Client(), "session", token=app_login(Client(), account)).status_code == 200
