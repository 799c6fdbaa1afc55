"""The tokens in emailed links: Django's signing underneath, and what this app adds on top
(an id, its own expiry, "expired" told apart from "forged").

Each story makes a token the way the app does and checks it the way the views do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator as DjangoGenerator
from django.utils import timezone

from tests.conftest import create_account
from useraccounts.conf import app_settings
from useraccounts.models import EmailAddress
from useraccounts.tokens import (
    TOKEN_PREFIX_LENGTH,
    TokenState,
    _Signed,
    email_confirmation_token_generator,
    password_reset_token_generator,
)

pytestmark = pytest.mark.django_db

reset = password_reset_token_generator
confirm = email_confirmation_token_generator


def reloaded(user):
    return get_user_model()._default_manager.get(pk=user.pk)


def tampered(token: str, index: int) -> str:
    """``token`` with the character at ``index`` replaced by another base36 digit."""
    char = "1" if token[index] != "1" else "2"
    return token[:index] + char + token[index + 1 :]


@pytest.fixture
def address(account):
    return EmailAddress.objects.get(user=account)


# Django's machinery, reused


def test_both_generators_are_djangos_password_reset_token_generator():
    assert isinstance(reset, DjangoGenerator)
    assert isinstance(confirm, DjangoGenerator)
    assert reset.key_salt != confirm.key_salt != DjangoGenerator.key_salt


def test_the_signature_is_djangos_token_behind_the_id(account, address, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)
    token = reset.make_token(account, address.pk)
    address_id, django_token = token.split("-", 1)
    timestamp = reset._num_seconds(reset._now())
    assert timestamp == 1_800_000_000  # Unix seconds, as before; not Django's since-2001
    assert int(address_id, 36) == address.pk
    assert django_token == reset._make_token_with_timestamp(
        _Signed(account, address.pk), timestamp, reset.secret
    )


def test_code_written_for_djangos_bool_check_cannot_take_a_refused_token_for_good(account):
    token = reset.make_token(account)  # Django's one-argument call
    assert reset.check_token(account, token)
    account.set_password("something else")
    assert reset.check_token(account, token) is TokenState.INVALID
    assert not reset.check_token(account, token)


# Rotating SECRET_KEY


def test_a_token_made_under_an_old_key_works_while_the_key_is_a_fallback(
    account, address, settings
):
    settings.SECRET_KEY = "the key the link was signed with " * 2
    token = confirm.make_token(address, address.pk)
    settings.SECRET_KEY = "the key after rotation " * 3
    settings.SECRET_KEY_FALLBACKS = ["the key the link was signed with " * 2]
    assert confirm.check_token(address, token) is TokenState.VALID


def test_a_token_made_under_an_old_key_is_refused_once_the_key_is_dropped(account, settings):
    settings.SECRET_KEY = "the key the link was signed with " * 2
    token = reset.make_token(account, 0)
    settings.SECRET_KEY = "the key after rotation " * 3
    settings.SECRET_KEY_FALLBACKS = ["some unrelated older key " * 2]
    assert reset.check_token(account, token) is TokenState.INVALID


def test_new_tokens_are_signed_with_the_current_key_not_a_fallback(account, settings):
    settings.SECRET_KEY = "the current key " * 4
    settings.SECRET_KEY_FALLBACKS = ["a retired key " * 4]
    token = reset.make_token(account, 0)
    settings.SECRET_KEY_FALLBACKS = []
    assert reset.check_token(account, token) is TokenState.VALID


# Expired is not forged


def test_a_genuine_token_past_its_time_is_expired(account, clock):
    token = reset.make_token(account, 0)
    clock.advance(app_settings.PASSWORD_RESET_TIMEOUT_SECONDS - 2)
    assert reset.check_token(account, token) is TokenState.VALID
    clock.advance(4)
    assert reset.check_token(account, token) is TokenState.EXPIRED


def test_each_generator_keeps_its_own_timeout(account, address, clock, settings):
    settings.USERACCOUNTS_EMAIL_CONFIRMATION_EXPIRE_SECONDS = 60
    settings.USERACCOUNTS_PASSWORD_RESET_TIMEOUT_SECONDS = 600
    settings.PASSWORD_RESET_TIMEOUT = 10  # Django's own setting is not what counts
    confirmation, reset_token = confirm.make_token(address), reset.make_token(account)
    clock.advance(62)
    assert confirm.check_token(address, confirmation) is TokenState.EXPIRED
    assert reset.check_token(account, reset_token) is TokenState.VALID


@pytest.mark.parametrize("part", ["id", "timestamp", "signature"])
def test_a_tampered_token_is_invalid_even_when_it_has_expired(account, address, clock, part):
    token = reset.make_token(account, address.pk)
    index = {"id": 0, "timestamp": token.index("-") + 1, "signature": len(token) - 1}[part]
    clock.advance(app_settings.PASSWORD_RESET_TIMEOUT_SECONDS + 10)
    assert reset.check_token(account, token) is TokenState.EXPIRED
    assert reset.check_token(account, tampered(token, index)) is TokenState.INVALID


@pytest.mark.parametrize(
    "token",
    ["", "-", "1-2", "1-2-3-4", "zz-!!-abc", "1-2-" + "a" * 100, "\x00-1-a"],
)
def test_malformed_tokens_are_invalid_and_name_no_row(account, token):
    assert reset.check_token(account, token) is TokenState.INVALID


def test_a_token_for_one_purpose_does_not_work_for_the_other(account, address):
    token = confirm.make_token(address, address.pk)
    assert reset.check_token(account, token) is TokenState.INVALID
    token = reset.make_token(account, address.pk)
    assert confirm.check_token(address, token) is TokenState.INVALID


def test_logs_carry_a_prefix_too_short_to_be_the_token(account):
    token = reset.make_token(account, 0)
    assert reset.check_token(account, token[:TOKEN_PREFIX_LENGTH]) is TokenState.INVALID


# What ends a password reset link


def _set_password(user):
    user.set_password("a different passphrase")


def _log_in(user):
    user.last_login = timezone.now()


def _deactivate(user):
    user.is_active = False


def _change_address(user):
    user.email = "elsewhere@example.com"


@pytest.mark.parametrize("change", [_set_password, _log_in, _deactivate, _change_address])
def test_a_reset_link_is_refused_once_the_account_changes(account, change):
    account.last_login = timezone.now() - timedelta(days=1)
    account.save()
    before = reloaded(account)
    token = reset.make_token(before, 0)
    assert reset.check_token(reloaded(account), token) is TokenState.VALID
    change(before)
    before.save()
    assert reset.check_token(reloaded(account), token) is TokenState.INVALID


def test_a_reset_link_works_once(account, address):
    token = reset.make_token(account, address.pk)
    assert reset.check_token(reloaded(account), token) is TokenState.VALID
    rows = get_user_model()._default_manager.filter(**reset.unchanged(reloaded(account)))
    assert rows.update(password="reset") == 1
    assert reset.check_token(reloaded(account), token) is TokenState.INVALID
    assert rows.update(password="reset again") == 0  # the race loser changes nothing


# What ends a confirmation link


def test_a_confirmation_link_works_once(address):
    address.verified = False
    address.save()
    token = confirm.make_token(address, address.pk)
    assert confirm.check_token(EmailAddress.objects.get(pk=address.pk), token) is (
        TokenState.VALID
    )
    address.verified = True
    address.save()
    assert confirm.check_token(EmailAddress.objects.get(pk=address.pk), token) is (
        TokenState.INVALID
    )


def test_a_confirmation_link_is_refused_for_another_address_or_owner(address):
    token = confirm.make_token(address, address.pk)
    address.email = "other@example.com"
    assert confirm.check_token(address, token) is TokenState.INVALID
    other = create_account("alice", "alice@example.com")
    moved = EmailAddress.objects.get(pk=address.pk)
    moved.user = other
    assert confirm.check_token(moved, token) is TokenState.INVALID


# Links already in mailboxes


class _UserAsSigned:
    """A user in the state the golden tokens below were signed for, with no model."""

    pk = 7
    password = "md5$salt$abc"
    is_active = True
    email = "bob@example.com"
    last_login = datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)

    def get_email_field_name(self) -> str:
        return "email"


GOLDEN_KEY = "old-implementation-secret-key-for-golden-tokens-0123456789"
GOLDEN_TIME = 1_750_000_000.25
# Made by useraccounts/tokens.py as it was before it subclassed Django's generator
# (commit bca7d05), with SECRET_KEY = GOLDEN_KEY and time.time() = GOLDEN_TIME.
GOLDEN_RESET_TO_ADDRESS_42 = "16-sxwkn4-37b611b4dbd9e137486cc20777ef963d"
GOLDEN_RESET = "0-sxwkn4-91f7ee9fa360803e04e9ee297998e395"
GOLDEN_CONFIRMATION_OF_42 = "16-sxwkn4-30499312b54f67f977c8ff75382b64ca"


@pytest.fixture
def at_golden_time(monkeypatch, settings):
    settings.SECRET_KEY = GOLDEN_KEY
    settings.SECRET_KEY_FALLBACKS = []
    monkeypatch.setattr(time, "time", lambda: GOLDEN_TIME + 3600)


def test_links_sent_before_the_rewrite_still_work(at_golden_time):
    user = _UserAsSigned()
    address = SimpleNamespace(pk=42, user_id=7, email="bob@example.com", verified=False)
    assert reset.check_token(user, GOLDEN_RESET_TO_ADDRESS_42) is TokenState.VALID
    assert reset.parse_id(GOLDEN_RESET_TO_ADDRESS_42) == 42
    assert reset.check_token(user, GOLDEN_RESET) is TokenState.VALID
    assert confirm.check_token(address, GOLDEN_CONFIRMATION_OF_42) is TokenState.VALID


def test_the_rewrite_makes_the_very_same_tokens(monkeypatch, at_golden_time):
    monkeypatch.setattr(time, "time", lambda: GOLDEN_TIME)
    user = _UserAsSigned()
    address = SimpleNamespace(pk=42, user_id=7, email="bob@example.com", verified=False)
    assert reset.make_token(user, 42) == GOLDEN_RESET_TO_ADDRESS_42
    assert reset.make_token(user) == GOLDEN_RESET
    assert confirm.make_token(address) == GOLDEN_CONFIRMATION_OF_42


def test_links_sent_before_the_rewrite_still_expire(monkeypatch, at_golden_time):
    monkeypatch.setattr(
        time, "time", lambda: GOLDEN_TIME + app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS + 2
    )
    address = SimpleNamespace(pk=42, user_id=7, email="bob@example.com", verified=False)
    assert confirm.check_token(address, GOLDEN_CONFIRMATION_OF_42) is TokenState.EXPIRED
