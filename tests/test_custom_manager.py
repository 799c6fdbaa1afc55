"""A project's own account manager (``tests.custom_manager.HookedManager``), installed
through ``USERACCOUNTS_MANAGER``: each of the five override points changes what a
visitor sees on the pages, and the app's own behaviour around it still holds."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in, needs_username
from tests.custom_manager import HookedManager
from tests.test_story import signup_data
from useraccounts.manager import AccountManager, get_account_manager
from useraccounts.models import EmailAddress

pytestmark = pytest.mark.django_db
HOOKED = "tests.custom_manager.HookedManager"
DEFAULT = "useraccounts.manager.AccountManager"
SIGNUP = reverse("useraccounts:signup")
LOGIN = reverse("useraccounts:login")
LOGOUT = reverse("useraccounts:logout")
EMAIL_PAGE = reverse("useraccounts:email")


@pytest.fixture(autouse=True)
def outbox(settings):
    """Install the subclass; its ``outbox``, empty at the start of each test."""
    settings.USERACCOUNTS_MANAGER = HOOKED
    HookedManager.outbox.clear()
    yield HookedManager.outbox
    HookedManager.outbox.clear()


def refused_signup(client, signals, data):
    """POST a signup the manager refuses: the form's errors, once nothing was saved."""
    response = client.post(SIGNUP, data)
    assert response.status_code == 200
    signals.assert_once(
        "user_registration_failed",
        username=data.get("username"),
        email=data["email"],
        error_type="validation_error",
        error_message=str,
        exception=Exception,
    )
    assert get_user_model().objects.count() == 0
    assert EmailAddress.objects.count() == 0
    return response.context["form"].errors


def test_the_settings_module_names_the_subclass():
    """``--ds=tests.settings_custom_manager`` runs whole test modules with it (.ci/run)."""
    from tests import settings as base
    from tests import settings_custom_manager as custom

    def names(module):
        return {name: getattr(module, name) for name in dir(module) if name.isupper()}

    assert names(custom) == {**names(base), "USERACCOUNTS_MANAGER": HOOKED}


def test_the_setting_installs_the_subclass(settings):
    assert type(get_account_manager()) is HookedManager
    settings.USERACCOUNTS_MANAGER = DEFAULT
    assert type(get_account_manager()) is AccountManager


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("tests.custom_manager.NoSuchManager", "cannot be imported"),
        ("no_such_module.Manager", "cannot be imported"),
        ("tests.custom_manager.RESERVED_USERNAMES", "not a subclass"),
        ("django.contrib.auth.models.User", "not a subclass"),
    ],
)
def test_a_bad_manager_path_is_improperly_configured(client, settings, path, text):
    settings.USERACCOUNTS_MANAGER = path
    with pytest.raises(ImproperlyConfigured, match=text) as raised:
        get_account_manager()
    assert f"USERACCOUNTS_MANAGER is {path!r}" in str(raised.value)
    # A page that needs the manager fails loudly: it never falls back to the default.
    with pytest.raises(ImproperlyConfigured, match=text):
        client.post(SIGNUP, signup_data())
    assert get_user_model().objects.count() == 0


@needs_username
@pytest.mark.parametrize("username", ["admin", "Root"])
def test_a_reserved_username_is_refused_beside_the_username_field(
    client, signals, mailoutbox, outbox, settings, username
):
    errors = refused_signup(client, signals, signup_data(username=username))
    assert errors == {"username": [f"The username “{username}” is reserved. Choose another one."]}
    assert mailoutbox == [] and outbox == []
    # The app's own username checks still run.
    create_account("bob", "bob@example.com")
    taken = client.post(SIGNUP, signup_data(username="bob"))
    assert "already exists" in str(taken.context["form"].errors["username"])
    # It is the subclass that refuses: the app's manager takes the same signup.
    settings.USERACCOUNTS_MANAGER = DEFAULT
    assert client.post(SIGNUP, signup_data(username=username)).status_code == 302


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Alice@Mailinator.com", "mailinator.com"),
        ("alice@eu.throwaway.example", "eu.throwaway.example"),
    ],
)
def test_an_address_at_a_blocked_domain_is_refused_beside_the_email_field(
    client, signals, mailoutbox, outbox, settings, email, domain
):
    errors = refused_signup(client, signals, signup_data(email=email))
    assert errors == {
        "email": [f"We do not accept addresses at {domain}. Use another email address."]
    }
    assert mailoutbox == [] and outbox == []
    # The app's own address checks still run: here, a taken address is refused.
    settings.USERACCOUNTS_PREVENT_ENUMERATION = False
    create_account("bob", "alice@example.com")
    taken = client.post(SIGNUP, signup_data(email="ALICE@example.com"))
    assert "already exists" in str(taken.context["form"].errors["email"])
    settings.USERACCOUNTS_MANAGER = DEFAULT
    assert client.post(SIGNUP, signup_data(email=email)).status_code == 302


def test_the_email_hook_also_guards_the_email_page(logged_in, account, signals, mailoutbox):
    """An address added later meets the site's rules too, not only a signup's."""
    response = logged_in.post(EMAIL_PAGE, {"action_add": "", "email": "bob@mailinator.com"})
    assert response.status_code == 200
    assert "We do not accept addresses at mailinator.com" in response.content.decode()
    signals.assert_once(
        "email_address_failed",
        user=account,
        email="bob@mailinator.com",
        action="add",
        error_type="validation_error",
        exception=Exception,
    )
    assert not EmailAddress.objects.filter(email="bob@mailinator.com").exists()
    assert mailoutbox == []
    # A taken address is still added as if free (its owner is told): not the hook's.
    create_account("carol", "carol@example.com")
    response = logged_in.post(EMAIL_PAGE, {"action_add": "", "email": "carol@example.com"})
    assert response.status_code == 302
    assert EmailAddress.objects.filter(user=account, email="carol@example.com").exists()


def test_a_password_naming_the_site_is_refused_beside_the_password_field(
    client, signals, settings
):
    named = "my HOOKSHOP password, 2024 edition"
    errors = refused_signup(client, signals, signup_data(password1=named, password2=named))
    assert errors == {
        "password1": ["Your password cannot contain the name of this site, Hookshop."]
    }
    # The validators of AUTH_PASSWORD_VALIDATORS still run, and their errors come first.
    signals.clear()
    similar = "hookshop.fan"
    errors = refused_signup(
        client,
        signals,
        signup_data(email="hookshop.fan@example.com", password1=similar, password2=similar),
    )
    assert len(errors["password1"]) == 2, errors
    assert "too similar" in errors["password1"][0]
    assert (
        errors["password1"][1] == "Your password cannot contain the name of this site, Hookshop."
    )
    signals.clear()
    weak = refused_signup(client, signals, signup_data(password1="12345678", password2="12345678"))
    assert any("too common" in e for e in weak["password1"]), weak
    assert not any("Hookshop" in e for e in weak["password1"]), weak
    settings.USERACCOUNTS_MANAGER = DEFAULT
    assert client.post(SIGNUP, signup_data(password1=named, password2=named)).status_code == 302


def test_a_new_password_naming_the_site_is_refused_on_the_password_change_page(logged_in, account):
    named = "back to hookshop we go"
    response = logged_in.post(
        reverse("useraccounts:password_change"),
        {"old_password": PASSWORD, "new_password1": named, "new_password2": named},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "new_password1": ["Your password cannot contain the name of this site, Hookshop."]
    }
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_signup_mail_passes_through_the_overridden_send_mail(client, mailoutbox, outbox, settings):
    assert client.post(SIGNUP, signup_data()).status_code == 302
    user = get_user_model().objects.get()
    assert outbox == [{"kind": "email_confirmation", "to": "alice@example.com", "user": user}]
    # super() sent it as the app does: the one message, its tags, a link that works.
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@example.com"]
    assert message.tags == ["useraccounts", "email_confirmation"]
    assert client.post(link_in(message)).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    # A reset link goes the same way.
    client.post(reverse("useraccounts:password_reset"), {"email": "alice@example.com"})
    assert [m["kind"] for m in outbox] == ["email_confirmation", "password_reset"]
    assert len(mailoutbox) == 2 and mailoutbox[1].tags == ["useraccounts", "password_reset"]
    # The app's manager sends the same mail without the subclass's record.
    settings.USERACCOUNTS_MANAGER = DEFAULT
    client.post(SIGNUP, signup_data(username="dora", email="dora@example.com"))
    assert len(mailoutbox) == 3
    assert len(outbox) == 2


def test_login_lands_where_get_login_redirect_url_says(
    client, account, mailoutbox, outbox, settings
):
    def log_in(**data):
        response = client.post(LOGIN, {"login": account.email, "password": PASSWORD, **data})
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(account.pk)
        return response["Location"]

    # Nothing waits for confirmation: the app's landing page.
    assert log_in() == settings.LOGIN_REDIRECT_URL
    # Bob adds a second address, and logs out before confirming it.
    added = client.post(EMAIL_PAGE, {"email": "bob@work.example", "action_add": ""})
    assert added.status_code == 302
    assert [m["kind"] for m in outbox] == ["email_confirmation"]
    client.post(LOGOUT)
    # His next login lands on the email page, which lists the address still waiting.
    assert log_in() == EMAIL_PAGE
    assert "bob@work.example" in client.get(EMAIL_PAGE).content.decode()
    # The signup page sends him there too, as it sends any logged-in visitor away.
    assert client.get(SIGNUP)["Location"] == EMAIL_PAGE
    client.post(LOGOUT)
    # A safe ``next`` still wins over the subclass's choice.
    assert log_in(next="/somewhere/") == "/somewhere/"
    client.post(LOGOUT)
    # The app's manager ignores the waiting address.
    settings.USERACCOUNTS_MANAGER = DEFAULT
    assert log_in() == settings.LOGIN_REDIRECT_URL
    client.post(LOGOUT)
    # Once the address is confirmed, the landing page is the usual one again.
    settings.USERACCOUNTS_MANAGER = HOOKED
    log_in()
    assert client.post(link_in(mailoutbox[-1])).status_code == 302
    assert EmailAddress.objects.get(email="bob@work.example").verified
    client.post(LOGOUT)
    assert log_in() == settings.LOGIN_REDIRECT_URL
