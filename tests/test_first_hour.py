"""The first hour of a new site that follows README.rst's "Add it to your project" alone:
the quickstart's code works as written, people land on real pages after login, logout
and signup when the site has set no redirect of its own, a ``createsuperuser`` account
logs in at once, and a receiver in ``myapp/signals.py`` is connected the way the README
says. ``tests/test_new_site.py`` does all of it on a real ``startproject`` site."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import UserSettingsHolder, global_settings, settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.module_loading import import_string

from tests.conftest import PASSWORD, create_account
from useraccounts.models import EmailAddress
from useraccounts.signals import user_signed_up
from useraccounts.users import has_username

README = Path(__file__).resolve().parent.parent / "README.rst"
SIGNUP = reverse("useraccounts:signup")
LOGIN = reverse("useraccounts:login")
LOGOUT = reverse("useraccounts:logout")
ACCOUNT = reverse("useraccounts:account")
SENT = reverse("useraccounts:confirmation_sent")
SETTINGS_BLOCK = "In ``settings.py``:"
URLS_BLOCK = "In ``urls.py``:"
PRODUCTION_BLOCK = "# settings.py, in production"


# The README's quickstart, read as a new site's developer reads it -----------------------


def quickstart() -> str:
    """The text between the quickstart markers (docs/quickstart.rst includes the same)."""
    text = README.read_text()
    return text.split(".. quickstart-start", 1)[1].split(".. quickstart-end", 1)[0]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Each ``.. code-block:: python`` of ``text``: (the paragraph just before it, its
    code without the block's indentation)."""
    lines, blocks = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.strip() != ".. code-block:: python":
            continue
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        paragraph = []
        while j >= 0 and lines[j].strip() and not lines[j].startswith(" "):
            paragraph.insert(0, lines[j].strip())
            j -= 1
        code, k = [], i + 1
        while k < len(lines) and (not lines[k].strip() or lines[k].startswith("    ")):
            code.append(lines[k][4:])
            k += 1
        blocks.append((" ".join(paragraph), "\n".join(code).strip("\n") + "\n"))
    return blocks


def quickstart_block(*, after: str = "", first_line: str = "") -> str:
    """The one quickstart code block that follows the paragraph ending with ``after``, or
    whose first line is ``first_line``."""
    found = [
        code
        for paragraph, code in code_blocks(quickstart())
        if (after and paragraph.endswith(after))
        or (first_line and code.splitlines()[0] == first_line)
    ]
    assert len(found) == 1, f"README's quickstart has {len(found)} blocks {after or first_line}"
    return found[0]


def assignments(code: str) -> dict[str, object]:
    """The module-level ``NAME = <literal>`` assignments of ``code`` (no code runs)."""
    return {
        target.id: ast.literal_eval(node.value)
        for node in ast.parse(code).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def signup_data(email: str = "new@example.com") -> dict[str, str]:
    data = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    if has_username():
        data["username"] = email.split("@")[0]
    return data


# 1. Email: the quickstart's backend works on a developer's machine ----------------------


@pytest.mark.django_db
def test_the_quickstart_email_backend_lets_a_signup_through(client, settings, capsys):
    """Pasted as written, the quickstart's ``EMAIL_BACKEND`` sends the confirmation link
    somewhere a developer reads it (an ESP's backend with no API key fails every
    signup with "We could not send the email")."""
    settings.EMAIL_BACKEND = assignments(quickstart_block(after=SETTINGS_BLOCK))["EMAIL_BACKEND"]
    response = client.post(SIGNUP, signup_data())
    assert (response.status_code, response.get("Location")) == (302, SENT)
    assert re.search(r"http://testserver/accounts/confirm-email/\S+/", capsys.readouterr().out)


def test_the_production_email_backend_is_shown_apart():
    """The email provider's settings are there, marked for production, and name a
    backend that exists."""
    production = assignments(quickstart_block(first_line=PRODUCTION_BLOCK))
    assert production["EMAIL_BACKEND"].startswith("anymail.backends.")
    import_string(production["EMAIL_BACKEND"])
    assert "ANYMAIL" in production and "DEFAULT_FROM_EMAIL" in production


def test_the_quickstart_code_fits_the_rendered_page():
    """No quickstart line is cut off on PyPI or in the docs: at most 79 characters, and
    ``INSTALLED_APPS`` one app per line."""
    for _paragraph, code in code_blocks(quickstart()):
        for line in code.splitlines():
            assert len(line) <= 79, line
    code = quickstart_block(after=SETTINGS_BLOCK)
    listed = code.split("INSTALLED_APPS = [\n", 1)[1].split("\n]", 1)[0].splitlines()
    assert [line.count('"') for line in listed] == [2] * len(listed)
    apps = assignments(code)["INSTALLED_APPS"]
    assert len(listed) == len(apps) and apps[-1] == "useraccounts"


# 2. Where people land when the site sets no redirect of its own -------------------------


@pytest.fixture
def site_without_redirects(monkeypatch):
    """The settings of a site whose settings.py sets neither ``LOGIN_REDIRECT_URL`` nor
    ``LOGOUT_REDIRECT_URL`` (as ``startproject`` makes it): every other setting of the
    test site, and Django's defaults for those two, not overridden."""
    unset = {"LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL"}
    holder = UserSettingsHolder(global_settings)
    missing = object()
    for name in dir(settings._wrapped):
        if not name.isupper() or name in unset:
            continue
        value = getattr(settings, name)
        if value != getattr(global_settings, name, missing):  # what the site set
            setattr(holder, name, value)
    monkeypatch.setattr(settings, "_wrapped", holder)
    assert not settings.is_overridden("LOGIN_REDIRECT_URL")
    assert settings.LOGIN_REDIRECT_URL == "/accounts/profile/"  # a page nobody serves
    assert settings.LOGOUT_REDIRECT_URL is None


@pytest.mark.django_db
def test_with_no_redirect_settings_login_lands_on_the_account_page(site_without_redirects):
    account = create_account()
    client = Client()
    response = client.post(LOGIN, {"login": account.email, "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, ACCOUNT)
    assert client.get(ACCOUNT).status_code == 200
    # A logged-in visitor sent away from the signup page lands there too.
    assert client.get(SIGNUP)["Location"] == ACCOUNT
    # A safe ``next`` still wins over the default.
    client.post(LOGOUT)
    data = {"login": account.email, "password": PASSWORD, "next": "/accounts/email/"}
    assert client.post(LOGIN, data)["Location"] == "/accounts/email/"


@pytest.mark.django_db
def test_with_no_redirect_settings_logout_and_deletion_land_on_the_home_page(
    site_without_redirects,
):
    account = create_account()
    client = Client()
    client.force_login(account)
    assert client.post(LOGOUT)["Location"] == "/"
    client.force_login(account)
    deleted = client.post(reverse("useraccounts:account_delete"), {"password": PASSWORD})
    assert (deleted.status_code, deleted["Location"]) == (302, "/")


@pytest.mark.django_db
def test_with_no_redirect_settings_signup_lands_on_check_your_inbox(site_without_redirects):
    assert Client().post(SIGNUP, signup_data())["Location"] == SENT
    # Where signup logs the user in ("optional"), on the account page.
    with override_settings(USERACCOUNTS_EMAIL_VERIFICATION="optional"):
        assert Client().post(SIGNUP, signup_data("other@example.com"))["Location"] == ACCOUNT


@pytest.mark.django_db
def test_a_redirect_the_site_sets_is_followed_even_if_it_is_djangos_default(
    site_without_redirects,
):
    account = create_account()
    with override_settings(LOGIN_REDIRECT_URL="/accounts/profile/", LOGOUT_REDIRECT_URL="/bye/"):
        client = Client()
        response = client.post(LOGIN, {"login": account.email, "password": PASSWORD})
        assert response["Location"] == "/accounts/profile/"
        assert client.post(LOGOUT)["Location"] == "/bye/"


# 3. A superuser made with createsuperuser ------------------------------------------------


def createsuperuser(monkeypatch, email: str = "root@example.com"):
    """Django's own ``createsuperuser``, as a new site's developer runs it."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    User = get_user_model()
    options = {"email": email}
    if has_username():
        options[User.USERNAME_FIELD] = "root"
    call_command("createsuperuser", interactive=False, stdout=StringIO(), **options)
    return User.objects.get(is_superuser=True, email=email)


@pytest.mark.django_db
def test_a_createsuperuser_account_logs_in_by_username_and_by_email(monkeypatch):
    root = createsuperuser(monkeypatch)
    assert not EmailAddress.objects.filter(user=root).exists()  # the app made no row
    logins = [root.get_username(), "root@example.com", "ROOT@example.com"]
    for login in dict.fromkeys(logins):
        client = Client()
        response = client.post(LOGIN, {"login": login, "password": PASSWORD})
        assert response.status_code == 302, (login, response.content.decode()[:2000])
        assert client.session["_auth_user_id"] == str(root.pk), login
        assert client.get(reverse("admin:index")).status_code == 200  # staff, in the admin
    # Its own address became a verified row on first use.
    assert EmailAddress.objects.get(user=root).verified


def run_resend_action(client, users):
    meta = get_user_model()._meta
    return client.post(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        {"action": "resend_confirmation", "_selected_action": [str(u.pk) for u in users]},
        follow=True,
    ).content.decode()


@pytest.mark.django_db
def test_the_confirmation_action_says_why_it_sent_nothing(client, monkeypatch, mailoutbox):
    root = createsuperuser(monkeypatch)
    client.force_login(root)
    confirmed = create_account("carol", "carol@example.com")
    bounced = create_account("dave", "dave@example.com", verified=False)
    EmailAddress.objects.filter(user=bounced).update(undeliverable=True)

    page = run_resend_action(client, [root, confirmed, bounced])

    assert mailoutbox == []
    assert "0 confirmation links sent" not in page
    page = page.lower()  # the admin capitalizes its messages
    assert f"{root}: root@example.com needs no link".lower() in page
    assert "since the site wrote it (createsuperuser, the admin" in page
    assert f"{confirmed}: this address is already confirmed.".lower() in page
    assert f"{bounced}: email to this address bounced before".lower() in page
    # The superuser's address stays as createsuperuser left it: the action wrote nothing.
    assert not EmailAddress.objects.filter(user=root).exists()


@pytest.mark.django_db
@pytest.mark.skipif(not has_username(), reason="a user model without username needs an email")
def test_the_confirmation_action_names_an_account_without_an_address(client, monkeypatch):
    root = createsuperuser(monkeypatch)
    client.force_login(root)
    nobody = get_user_model().objects.create_user(username="nobody", email="")
    waiting = create_account("erin", "erin@example.com", verified=False)
    page = run_resend_action(client, [nobody, waiting])
    reason = f"{nobody}: The account has no email address to send a link to."
    assert reason.lower() in page.lower()
    assert "1 confirmation link sent." in page


# 4. A receiver in myapp/signals.py -----------------------------------------------------


def test_a_receiver_in_signals_py_is_connected_by_ready(tmp_path, monkeypatch):
    """README's ``myapp/signals.py`` and ``myapp/apps.py``, as written: importing the app
    connects nothing; its ``AppConfig.ready()``, which Django runs at start-up, does."""
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("signals", "apps"):
        (package / f"{name}.py").write_text(quickstart_block(first_line=f"# myapp/{name}.py"))
    monkeypatch.syspath_prepend(str(tmp_path))
    User = get_user_model()

    def receivers() -> list[str]:
        found = user_signed_up.send(sender=User, request=None, user=None)
        return [f"{receiver.__module__}.{receiver.__name__}" for receiver, _ in found]

    try:
        importlib.import_module("myapp")
        config = importlib.import_module("myapp.apps")
        assert "myapp.signals.welcome" not in receivers()
        from django.apps import AppConfig

        AppConfig.create("myapp").ready()
        assert config.__name__ == "myapp.apps"
        assert "myapp.signals.welcome" in receivers()
    finally:
        if "myapp.signals" in sys.modules:
            user_signed_up.disconnect(sys.modules["myapp.signals"].welcome)
        for name in ("myapp.signals", "myapp.apps", "myapp"):
            sys.modules.pop(name, None)
