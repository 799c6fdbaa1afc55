"""Signup: every failure leaves nothing behind and sends ``user_registration_failed``
once, with the right ``error_type``."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in, visible
from tests.test_story import signup_data
from useraccounts import signals as ua_signals
from useraccounts.exceptions import RegistrationError
from useraccounts.manager import get_account_manager
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db
SIGNUP = reverse("useraccounts:signup")


def assert_nothing_saved():
    assert get_user_model().objects.count() == 0
    assert EmailAddress.objects.count() == 0


def failure(signals, error_type, *, email="Alice@Example.com", username="alice"):
    return signals.assert_once(
        "user_registration_failed",
        username=username if has_username() else None,
        email=email,
        error_type=error_type,
        error_message=str,
        exception=Exception,
    )


def test_passwords_that_differ_are_a_validation_error(client, signals, mailoutbox):
    response = client.post(SIGNUP, signup_data(password2="something else entirely"))
    assert response.status_code == 200
    assert "Type the same password in both fields" in response.content.decode()
    assert signals.names() == ["user_registration_started", "user_registration_failed"]
    sent = failure(signals, "validation_error")
    assert "password2" in sent["error_message"]
    assert mailoutbox == []
    assert_nothing_saved()


def test_every_error_shows_on_the_first_submit(client, signals, hash_count):
    """The form's own checks (passwords that differ) and the manager's (a bad username,
    a bad address, a weak password) answer together: no rounds of errors."""
    data = signup_data(email="not-an-address", password1="12345678", password2="87654321")
    if has_username():
        data["username"] = "no spaces allowed"
    page = client.post(SIGNUP, data).content.decode()
    assert "Enter a valid email address" in page
    assert "Type the same password in both fields" in page
    assert "This password is too common" in page
    if has_username():
        assert "Enter a valid username" in page
    assert signals.names() == ["user_registration_started", "user_registration_failed"]
    assert hash_count() == 0  # refused before the password is hashed
    assert_nothing_saved()


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"email": ""}, "email", "This field is required"),
        ({"email": "not-an-address"}, "email", "Enter a valid email address"),
        ({"email": "a\x00b@example.com"}, "email", "Null characters are not allowed"),
        ({"email": "x" * 300 + "@example.com"}, "email", "at most 254 characters"),
        ({"password1": "x" * 5000, "password2": "x" * 5000}, "password1", "at most 4096"),
    ],
)
def test_bad_input_is_shown_next_to_its_field(client, signals, overrides, field, text):
    response = client.post(SIGNUP, signup_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(text in e for e in errors[field]), errors
    failure(signals, "validation_error", email=overrides.get("email", "Alice@Example.com"))
    assert_nothing_saved()


def test_weak_password_is_refused_by_the_password_validators(client, signals):
    response = client.post(SIGNUP, signup_data(password1="12345678", password2="12345678"))
    assert response.status_code == 200
    errors = response.context["form"].errors["password1"]
    assert any("too common" in e for e in errors), errors
    assert any("entirely numeric" in e for e in errors), errors
    assert "password" in failure(signals, "validation_error")["error_message"]
    assert_nothing_saved()


def test_password_similar_to_the_email_is_refused(client, signals):
    response = client.post(
        SIGNUP,
        signup_data(
            email="zanzibarian@example.com", password1="zanzibarian", password2="zanzibarian"
        ),
    )
    assert any("too similar" in e for e in response.context["form"].errors["password1"])
    assert_nothing_saved()


def signup_story(data):
    """What a visitor sees of a signup: the form, the POST, the page it leads to."""
    client = Client()
    pages = [client.get(SIGNUP), client.post(SIGNUP, data)]
    if pages[-1].status_code == 302:
        pages.append(client.get(pages[-1]["Location"]))
    return visible(pages, typed=data["email"])


def test_a_taken_address_looks_like_a_fresh_signup(signals, mailoutbox):
    owner = create_account("bob", "alice@example.com")
    taken = signup_story(signup_data(email="ALICE@example.com"))
    fresh = signup_story(signup_data(username="fresh", email="fresh@example.com"))
    assert taken == fresh
    assert get_user_model().objects.filter(email="alice@example.com").get() == owner
    notice = mailoutbox[0]
    assert notice.to == ["alice@example.com"]
    assert notice.tags == ["useraccounts", "account_exists"]
    assert link_in(notice) == "http://testserver/accounts/password/reset/"
    failed = signals.of("user_registration_failed")[0]
    assert (
        failed["error_type"] == "validation_error" and "already exists" in failed["error_message"]
    )


def test_a_taken_address_with_other_errors_shows_only_those(signals):
    create_account("bob", "alice@example.com")
    weak = {"password1": "12345678", "password2": "12345678"}
    taken = signup_story(signup_data(email="alice@example.com", **weak))
    fresh = signup_story(signup_data(email="fresh@example.com", **weak))
    assert taken == fresh
    assert b"already exists" not in taken[1][2]


@pytest.mark.parametrize(
    "settings_change",
    [{"USERACCOUNTS_PREVENT_ENUMERATION": False}, {"USERACCOUNTS_EMAIL_VERIFICATION": "optional"}],
)
def test_without_enumeration_prevention_a_taken_address_is_refused(
    client, signals, settings, settings_change
):
    for name, value in settings_change.items():
        setattr(settings, name, value)
    create_account("bob", "alice@example.com")
    response = client.post(SIGNUP, signup_data(email="ALICE@example.com"))
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["email"])
    failure(signals, "validation_error", email="ALICE@example.com")
    assert get_user_model().objects.count() == 1


@pytest.mark.skipif(not has_username(), reason="the user model has no username field")
@pytest.mark.parametrize(
    ("username", "text"),
    [("bob", "already exists"), ("bad name!", "Enter a valid username"), ("", "required")],
)
def test_a_bad_or_taken_username_is_refused(client, signals, username, text):
    create_account("bob", "bob@example.com")
    response = client.post(SIGNUP, signup_data(username=username))
    assert response.status_code == 200
    assert text in str(response.context["form"].errors["username"])
    failure(signals, "validation_error", username=username)
    assert get_user_model().objects.count() == 1


def test_email_backend_down_rolls_everything_back(client, signals, settings):
    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 503  # a fault of ours, not the visitor's input
    assert response["Retry-After"]
    assert "We could not send the email" in response.content.decode()
    sent = failure(signals, "email_send_failed")
    assert (
        sent["error_message"] == "We could not send the email. Please try again in a few minutes."
    )
    assert "email_confirmation_sent" not in signals.names()
    assert "user_signed_up" not in signals.names()
    assert_nothing_saved()


def test_database_error_is_a_repository_error(client, signals):
    def broken_query(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM useraccounts_no_such_table")

    ua_signals.user_signed_up.connect(broken_query, weak=False)
    try:
        response = client.post(SIGNUP, signup_data())
    finally:
        ua_signals.user_signed_up.disconnect(broken_query)
    assert response.status_code == 503
    assert "Something went wrong on our side" in response.content.decode()
    failure(signals, "repository_error")
    assert_nothing_saved()


def test_a_receiver_that_raises_is_an_unexpected_exception(client, signals, failing_receiver):
    failing_receiver(ua_signals.user_pre_register, "raise")
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 200
    assert "Something went wrong on our side" in response.content.decode()
    sent = failure(signals, "unexpected_exception")
    assert isinstance(sent["exception"], RuntimeError)
    assert_nothing_saved()


def test_a_failure_receiver_that_raises_changes_nothing(
    client, signals, failing_receiver, settings
):
    settings.EMAIL_BACKEND = "tests.backends.FailingEmailBackend"
    failing_receiver(ua_signals.user_registration_failed, "raise")
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 503
    assert "We could not send the email" in response.content.decode()
    failure(signals, "email_send_failed")


def test_hasher_failure_sends_password_set_failed(client, signals, settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.BrokenHasher"]
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 200
    assert "Something went wrong on our side" in response.content.decode()
    sent = signals.assert_once(
        "user_password_set_failed", user=get_user_model(), exception=RuntimeError
    )
    assert (
        sent["user"].pk is None or not get_user_model().objects.filter(pk=sent["user"].pk).exists()
    )
    failure(signals, "unexpected_exception")
    assert signals.names().index("user_password_set_failed") < signals.names().index(
        "user_registration_failed"
    )
    assert_nothing_saved()


def test_signups_per_ip_are_rate_limited(client, signals, settings, clock):
    settings.USERACCOUNTS_RATE_LIMITS = {"signup": "2/h/ip"}
    for n in range(2):
        client.post(SIGNUP, signup_data(username=f"user{n}", email=f"user{n}@example.com"))
    signals.clear()
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    failure(signals, "rate_limited")
    assert not EmailAddress.objects.filter(email="alice@example.com").exists()
    # Another address is counted apart; the same one recovers when the hour is over.
    other = client.post(SIGNUP, signup_data(), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302
    clock.advance(3600)
    again = client.post(SIGNUP, signup_data(username="u3", email="u3@example.com"))
    assert again.status_code == 302


def test_signup_closed_shows_a_403_page(client, settings, signals):
    settings.USERACCOUNTS_SIGNUP_OPEN = False
    assert client.get(SIGNUP).status_code == 403
    assert client.post(SIGNUP, signup_data()).status_code == 403
    assert signals.names() == []
    assert_nothing_saved()


def test_default_groups_are_assigned(client, settings, signals):
    settings.USERACCOUNTS_DEFAULT_GROUPS = ["members", "newsletter"]
    Group.objects.create(name="members")
    client.post(SIGNUP, signup_data())
    user = get_user_model().objects.get()
    assert sorted(user.groups.values_list("name", flat=True)) == ["members", "newsletter"]


@pytest.mark.parametrize("mode", ["optional", "none"])
def test_without_mandatory_verification_signup_logs_in(
    client, settings, mailoutbox, signals, mode
):
    settings.USERACCOUNTS_EMAIL_VERIFICATION = mode
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get()
    assert client.session["_auth_user_id"] == str(user.pk)
    assert len(mailoutbox) == (1 if mode == "optional" else 0)
    assert signals.names()[-2:] == ["user_signed_up", "user_logged_in"]


def test_register_user_from_code(signals, mailoutbox):
    manager = get_account_manager()
    user = manager.register_user(
        None, username="dora", email="Dora@Example.com", password=PASSWORD
    )
    assert user.check_password(PASSWORD)
    assert link_in(mailoutbox[0]).startswith("http://testserver/accounts/confirm-email/")
    assert "testserver" in mailoutbox[0].subject
    signals.assert_once("user_signed_up", request=None, user=user)
    # Once confirmed, the address is the account's: signing up with it again fails.
    manager.verify_email(None, link_in(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1])
    with pytest.raises(RegistrationError) as raised:
        manager.register_user(None, username="dora2", email="dora@example.com", password=PASSWORD)
    assert raised.value.code == "validation_error"
    assert "email" in raised.value.field_errors


def test_authenticated_user_is_sent_away_from_signup(client, account):
    client.force_login(account)
    assert client.get(SIGNUP).status_code == 302


@pytest.mark.parametrize(
    "hashers", [["tests.hashers.CountingArgon2Hasher"], ["tests.hashers.CountingMD5Hasher"]]
)
def test_a_signup_costs_exactly_one_hash(client, settings, hash_count, hashers):
    settings.PASSWORD_HASHERS = hashers
    before = hash_count()
    assert client.post(SIGNUP, signup_data()).status_code == 302
    assert hash_count() - before == 1
    create_account("bob", "taken@example.com")  # a taken address costs the same one hash
    before = hash_count()
    assert (
        client.post(SIGNUP, signup_data(username="x", email="taken@example.com")).status_code
        == 302
    )
    assert hash_count() - before == 1
