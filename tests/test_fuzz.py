"""Generated input on every form and token URL: a clear error or a 4xx, never a server
error, and never half an account (each user keeps a primary address, or there is none)."""

from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import create_account

pytestmark = pytest.mark.django_db

ODD = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "\r\n",
    "/a\nb",
    "bob@example.com\n",
    "\u202ebob@example.com",
    "\ufeffbob@example.com",
    "ｂｏｂ@ｅｘａｍｐｌｅ.ｃｏｍ",
    "İstanbul@example.com",
    "\u212aelvin@example.com",
    "ſ@example.com",
    "bob@exämple.com",
    "@",
    "a@b",
    "a" * 300 + "@example.com",
    "x" * 100_000,
    "//evil.example/",
    "\\\\evil",
    "javascript:alert(1)",
    "%00",
    "../../etc/passwd",
    "1-" + "9" * 80,
    "MQ",
    "Zm9v",
]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=60),
    st.text(st.characters(codec="utf-8"), max_size=2000),
)
TOKENS = st.one_of(
    st.sampled_from(ODD), st.text(st.characters(codec="utf-8"), min_size=1, max_size=120)
)

FORMS = {
    "/accounts/signup/": ["username", "email", "password1", "password2"],
    "/accounts/login/": ["login", "password", "remember", "next"],
    "/accounts/logout/": ["next"],
    "/accounts/confirm-email/resend/": ["email"],
    "/accounts/password/reset/": ["email"],
    "/accounts/password/change/": ["old_password", "new_password1", "new_password2"],
    "/accounts/account/": ["first_name", "last_name", "password"],
    "/accounts/account/delete/": ["password"],
    "/accounts/email/": ["email", "action_add", "action_remove", "action_send", "action_primary"],
}
fuzz = hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_whole_accounts():
    User = get_user_model()
    assert not User.objects.exclude(email_addresses__primary=True).exists()


@pytest.fixture
def user(settings):
    settings.USERACCOUNTS_RATE_LIMITS = False  # fuzz the forms, not the limiter
    return create_account()


@pytest.mark.parametrize("url", sorted(FORMS))
@fuzz
@given(data=st.data())
def test_forms_take_any_input(client, user, url, data):
    fields = FORMS[url]
    values = data.draw(st.dictionaries(st.sampled_from(fields), VALUES, max_size=len(fields)))
    client.force_login(user)
    if url in ("/accounts/signup/", "/accounts/login/", "/accounts/confirm-email/resend/"):
        client.logout()
    response = client.post(url, values)
    assert response.status_code < 500, (url, values)
    assert_whole_accounts()


@pytest.mark.parametrize("method", ["get", "post"])
@fuzz
@given(token=TOKENS, uid=TOKENS)
def test_token_urls_take_any_token(client, user, method, token, uid):
    quoted = quote(token, safe="")
    urls = [
        f"/accounts/confirm-email/{quoted}/",
        f"/accounts/password/reset/{quote(uid, safe='')}/{quoted}/",
        f"/accounts/password/reset/{quote(uid, safe='')}/set-password/",
    ]
    for url in urls:
        body = {"new_password1": token, "new_password2": token} if method == "post" else None
        response = getattr(client, method)(url, body) if body else getattr(client, method)(url)
        assert response.status_code < 500, url
    assert_whole_accounts()
