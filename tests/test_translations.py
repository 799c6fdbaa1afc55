"""Every page and email speaks French, German and Spanish: each is rendered in English
and in the visitor's language (``Accept-Language``), and no text of the English page
may survive into the translated one, except the visitor's own data.

The catalogs themselves are checked too: every string translated, nothing fuzzy, the
compiled ``.mo`` files matching their ``.po``, and ``makemessages`` finding no string
that the catalogs lack.
"""

import gettext
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
LANGUAGES = ["fr", "de", "es"]
LOCALE = Path(__file__).resolve().parent.parent / "useraccounts" / "locale"
# The visitor's own data, and marks that are the same in every language.
DATA = re.compile(r"^([\w.+-]+@[\w.-]+|https?://\S+|bob|carol|testserver|[\d\W_]+)$")


class TextCollector(HTMLParser):
    """The text a person reads or hears: text nodes and the attributes that are read
    out (title, placeholder, aria-label, alt, button values); not styles or scripts."""

    READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in self.READ_ATTRIBUTES or (name == "value" and tag == "button")):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def fragments(text: str, *, html: bool = True) -> set[str]:
    """Each piece of text, trimmed, whitespace collapsed, data left out."""
    if html:
        collector = TextCollector()
        collector.feed(text)
        pieces = collector.texts
    else:
        pieces = text.splitlines()
    result = {re.sub(r"\s+", " ", piece).strip() for piece in pieces}
    return {piece for piece in result if piece and not DATA.match(piece)}


def catalog(language: str) -> gettext.GNUTranslations:
    with open(LOCALE / language / "LC_MESSAGES" / "django.mo", "rb") as mo:
        return gettext.GNUTranslations(mo)


def kept_by_translator(language: str) -> set[str]:
    """Strings whose translation is the English word itself (French "Actions")."""
    entries = po_entries(language)
    return {msgid for msgid, msgstr in entries.items() if msgstr == [msgid]}


def untranslated(english: set[str], translated: set[str], language: str) -> set[str]:
    return (english & translated) - kept_by_translator(language)


# --- the pages ----------------------------------------------------------------------


def confirmation_link(client, mailoutbox) -> str:
    create_account("carol", "carol@example.com", verified=False)
    client.post(reverse("useraccounts:resend_confirmation"), {"email": "carol@example.com"})
    return link_in(mailoutbox[-1])


def reset_form(client, mailoutbox) -> str:
    client.post(reverse("useraccounts:password_reset"), {"email": "bob@example.com"})
    return client.get(link_in(mailoutbox[-1]))["Location"]


def with_addresses(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    user = get_user_model().objects.get(email="bob@example.com")
    EmailAddress.objects.create(user=user, email="bob.work@example.com", verified=True)
    EmailAddress.objects.create(user=user, email="bob.old@example.com", undeliverable=True)
    return client.get(reverse("useraccounts:email"))


def rate_limited(client, mailoutbox, settings):
    settings.USERACCOUNTS_RATE_LIMITS = {"login_failed": "1/5m/key"}
    wrong = {"login": "bob@example.com", "password": "not it"}
    client.post(reverse("useraccounts:login"), wrong)
    return client.post(reverse("useraccounts:login"), wrong)


def logged_in(name):
    def view(client, mailoutbox):
        client.force_login(get_user_model().objects.get(email="bob@example.com"))
        return client.get(reverse(f"useraccounts:{name}"), follow=True)

    view.__name__ = name
    return view


def get(name):
    def view(client, mailoutbox):
        return client.get(reverse(f"useraccounts:{name}"))

    view.__name__ = name
    return view


def signup_errors(client, mailoutbox):
    data = {"username": "", "email": "not an address", "password1": "a", "password2": "b"}
    return client.post(reverse("useraccounts:signup"), data)


def signup_closed(client, mailoutbox, settings):
    settings.USERACCOUNTS_SIGNUP_OPEN = False
    return client.get(reverse("useraccounts:signup"))


def login_errors(client, mailoutbox):
    return client.post(reverse("useraccounts:login"), {"login": "bob", "password": "not it"})


def login_unverified(client, mailoutbox):
    create_account("carol", "carol@example.com", verified=False)
    login = {"login": "carol@example.com", "password": PASSWORD}
    return client.post(reverse("useraccounts:login"), login)


def logout_confirm(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    return client.get(reverse("useraccounts:logout"))


def confirm_email(client, mailoutbox):
    return client.get(confirmation_link(client, mailoutbox))


def confirm_email_done(client, mailoutbox):
    return client.post(confirmation_link(client, mailoutbox), follow=True)


def confirm_email_invalid(client, mailoutbox):
    return client.get(reverse("useraccounts:confirm_email", args=["1-abc-0123456789"]))


def inbox_named(client, mailoutbox):
    data = {"email": "carol@example.com"}
    return client.post(reverse("useraccounts:resend_confirmation"), data, follow=True)


def reset_done(client, mailoutbox):
    data = {"email": "bob@example.com"}
    return client.post(reverse("useraccounts:password_reset"), data, follow=True)


def reset_confirm(client, mailoutbox):
    return client.get(reset_form(client, mailoutbox))


def reset_confirm_errors(client, mailoutbox):
    data = {"new_password1": "one passphrase", "new_password2": "another"}
    return client.post(reset_form(client, mailoutbox), data)


def reset_complete(client, mailoutbox):
    new = {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"}
    return client.post(reset_form(client, mailoutbox), new, follow=True)


def reset_invalid(client, mailoutbox):
    return client.get(reverse("useraccounts:password_reset_confirm", args=["MQ", "1-abc-def"]))


def password_change_errors(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    data = {"old_password": "not it", "new_password1": "x", "new_password2": "y"}
    return client.post(reverse("useraccounts:password_change"), data)


def password_change_done(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    new = "a brand new passphrase"
    data = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    return client.post(reverse("useraccounts:password_change"), data, follow=True)


def password_set(client, mailoutbox):
    user = get_user_model().objects.get(email="bob@example.com")
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    return client.get(reverse("useraccounts:password_change"))


def profile_saved(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    page = client.get(reverse("useraccounts:account")).content.decode()
    fields = dict(re.findall(r'name="(\w+)"[^>]*?value="([^"]*)"', page))
    fields.pop("csrfmiddlewaretoken", None)
    return client.post(reverse("useraccounts:account"), fields, follow=True)


def account_deleted(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    client.post(reverse("useraccounts:account_delete"), {"password": PASSWORD})
    return client.get(reverse("useraccounts:login"))  # where its message shows


def email_errors(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    data = {"email": "bob@example.com", "action_add": ""}
    return client.post(reverse("useraccounts:email"), data)


def email_added(client, mailoutbox):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    data = {"email": "bob.new@example.com", "action_add": ""}
    return client.post(reverse("useraccounts:email"), data, follow=True)


def unavailable(client, mailoutbox, settings):
    """The 503 page: the email backend is down while signing up."""
    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    data = {"email": "carol@example.com", "password1": PASSWORD, "password2": PASSWORD}
    if "username" in {f.name for f in get_user_model()._meta.fields}:
        data["username"] = "carol"
    return client.post(reverse("useraccounts:signup"), data)


def confirm_email_elsewhere(client, mailoutbox):
    """The link opened in another browser: the page asks for the account's password."""
    from django.test import Client

    signer = Client(HTTP_ACCEPT_LANGUAGE="en")
    data = {"email": "carol@example.com", "password1": PASSWORD, "password2": PASSWORD}
    if "username" in {f.name for f in get_user_model()._meta.fields}:
        data["username"] = "carol"
    signer.post(reverse("useraccounts:signup"), data)
    return client.post(link_in(mailoutbox[-1]), {"password": "not it"})


PAGES = [
    get("signup"),
    unavailable,
    confirm_email_elsewhere,
    signup_errors,
    signup_closed,
    get("login"),
    login_errors,
    login_unverified,
    logout_confirm,
    get("logout"),
    get("confirmation_sent"),
    inbox_named,
    get("resend_confirmation"),
    confirm_email,
    confirm_email_done,
    confirm_email_invalid,
    get("password_reset"),
    reset_done,
    reset_confirm,
    reset_confirm_errors,
    reset_complete,
    reset_invalid,
    logged_in("password_change"),
    password_change_errors,
    password_change_done,
    password_set,
    logged_in("account"),
    profile_saved,
    logged_in("account_delete"),
    account_deleted,
    with_addresses,
    email_errors,
    email_added,
    rate_limited,
]


def render(page, language: str, client_factory, mailoutbox, settings):
    """The page's text, in ``language``, from a fresh site (one account, bob)."""
    get_user_model().objects.all().delete()
    mailoutbox.clear()
    create_account()
    client = client_factory(HTTP_ACCEPT_LANGUAGE=language)
    kwargs = {"settings": settings} if "settings" in page.__code__.co_varnames else {}
    response = page(client, mailoutbox, **kwargs)
    assert response.status_code < 500 or page is unavailable
    content = response.content.decode()
    assert f'<html lang="{language}' in content, "the page is not in the visitor's language"
    return content


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.__name__)
def test_every_page_is_translated(page, language, mailoutbox, settings):
    from django.test import Client

    settings.USERACCOUNTS_RATE_LIMITS = {}
    english = fragments(render(page, "en", Client, mailoutbox, settings))
    settings.USERACCOUNTS_RATE_LIMITS = {}
    translated = fragments(render(page, language, Client, mailoutbox, settings))
    assert english, "nothing rendered"
    assert untranslated(english, translated, language) == set()


# --- the emails ---------------------------------------------------------------------


def signup_email(client):
    data = {"email": "carol@example.com", "password1": PASSWORD, "password2": PASSWORD}
    if "username" in {f.name for f in get_user_model()._meta.fields}:
        data["username"] = "carol"
    client.post(reverse("useraccounts:signup"), data)


def account_exists_email(client):
    data = {"email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD}
    if "username" in {f.name for f in get_user_model()._meta.fields}:
        data["username"] = "carol"
    client.post(reverse("useraccounts:signup"), data)


def reset_email(client):
    client.post(reverse("useraccounts:password_reset"), {"email": "bob@example.com"})


def added_address_email(client):
    client.force_login(get_user_model().objects.get(email="bob@example.com"))
    client.post(reverse("useraccounts:email"), {"email": "bob.new@example.com", "action_add": ""})


def no_account_reset_email(client):
    client.post(reverse("useraccounts:password_reset"), {"email": "nobody@example.com"})


def no_signup_waiting_email(client):
    client.post(reverse("useraccounts:resend_confirmation"), {"email": "nobody@example.com"})


def already_confirmed_email(client):
    client.post(reverse("useraccounts:resend_confirmation"), {"email": "bob@example.com"})


def address_of_another_account_email(client):
    create_account("carol", "carol@example.com")
    client.force_login(get_user_model().objects.get(email="carol@example.com"))
    client.post(reverse("useraccounts:email"), {"email": "bob@example.com", "action_add": ""})


def email_text(send, language, mailoutbox) -> tuple[set[str], set[str]]:
    from django.test import Client

    get_user_model().objects.all().delete()
    mailoutbox.clear()
    create_account()
    send(Client(HTTP_ACCEPT_LANGUAGE=language))
    (message,) = mailoutbox
    (html, _mimetype) = message.alternatives[0]
    plain = fragments(message.subject, html=False) | fragments(message.body, html=False)
    return plain, fragments(html)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "send",
    [
        signup_email,
        account_exists_email,
        reset_email,
        added_address_email,
        no_account_reset_email,
        no_signup_waiting_email,
        already_confirmed_email,
        address_of_another_account_email,
    ],
)
def test_every_email_is_translated(send, language, mailoutbox):
    english_text, english_html = email_text(send, "en", mailoutbox)
    text, html = email_text(send, language, mailoutbox)
    assert english_text and english_html
    assert untranslated(english_text, text, language) == set()
    assert untranslated(english_html, html, language) == set()


# --- the catalogs -------------------------------------------------------------------


def po_entries(language: str) -> dict[str, list[str]]:
    """msgid: [msgstr, ...] of a catalog (one string each: it is written --no-wrap)."""
    return po_entries_at_path(LOCALE / language / "LC_MESSAGES" / "django.po")


def po_entries_at_path(path: Path) -> dict[str, list[str]]:
    text = path.read_text()
    entries = {}
    for block in text.split("\n\n"):
        msgid = re.search(r'^msgid "(.*)"$', block, re.M)
        if msgid and msgid[1]:
            strings = re.findall(r'^msgstr(?:\[\d\])? "(.*)"$', block, re.M)
            entries[unescape(msgid[1])] = [unescape(s) for s in strings]
    return entries


def unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_are_complete_and_compiled(language):
    po = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text()
    assert "#, fuzzy" not in po
    entries = po_entries(language)
    assert len(entries) > 150
    mo = catalog(language)
    for msgid, strings in entries.items():
        assert all(strings), f"{msgid!r} has no {language} translation"
        if len(strings) == 1:
            assert mo.gettext(msgid) == strings[0], f"{language} .mo is stale: run compilemessages"
        else:
            assert mo.ngettext(msgid, msgid, 1) == strings[0], f"{language} .mo is stale"
            assert mo.ngettext(msgid, msgid, 5) == strings[-1], f"{language} .mo is stale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    for msgid, strings in po_entries(language).items():
        expected = sorted(re.findall(r"%\(\w+\)s|%d", msgid))
        for string in strings:
            assert sorted(re.findall(r"%\(\w+\)s|%d", string)) == expected, (msgid, string)


def test_makemessages_finds_no_new_string(tmp_path, monkeypatch):
    if shutil.which("xgettext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide gettext (.ci/run installs it with apt)")
        pytest.skip("makemessages needs GNU gettext: apt-get install gettext")
    app = tmp_path / "useraccounts"
    shutil.copytree(LOCALE.parent, app, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(app)
    call_command("makemessages", locale=["fr"], no_location=True, no_wrap=True, verbosity=0)
    fresh = set(po_entries_at_path(app / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    assert fresh == set(po_entries("fr")), "run makemessages and translate the new strings"
