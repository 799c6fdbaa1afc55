"""The errors the account manager raises.

Each carries ``code``, the ``error_type`` or ``reason`` string of the matching failure
signal, and ``message``, text fit to show the user that says how to go on. Views only map
these to responses; they never decide what went wrong themselves.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

GENERIC_MESSAGE = _("Something went wrong on our side. Please try again in a moment.")


class AccountError(Exception):
    """Base class of every failure of an account operation."""

    default_code = "unexpected_exception"
    messages: dict[str, Promise] = {
        "unexpected_exception": GENERIC_MESSAGE,
        "repository_error": GENERIC_MESSAGE,
        "validation_error": _("Please correct the errors below."),
        "rate_limited": _("Too many attempts. Please wait a few minutes and try again."),
        "email_send_failed": _("We could not send the email. Please try again in a few minutes."),
    }

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: str | None = None,
        field_errors: dict[str | None, list[str]] | None = None,
        shown_as_success: bool = False,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self._message_for(self.code)
        #: Errors that belong to one input field, keyed by field name (None: the form).
        self.field_errors = field_errors or {}
        #: The visitor must see the success page: telling them would reveal an account.
        self.shown_as_success = shown_as_success
        super().__init__(str(self.message))

    @classmethod
    def _message_for(cls, code: str) -> Promise:
        for klass in cls.__mro__:
            if code in getattr(klass, "messages", {}):
                return klass.messages[code]
        return GENERIC_MESSAGE

    def summary(self) -> str:
        """All the messages in one line, for logs and ``error_message``."""
        details = [
            f"{field}: {msg}" if field else str(msg)
            for field, msgs in self.field_errors.items()
            for msg in msgs
        ]
        return "; ".join(details) or str(self.message)


class RegistrationError(AccountError):
    """Signup failed; nothing of the account was saved."""


class AuthenticationError(AccountError):
    """A login was refused; ``code`` is the ``reason`` of ``user_authentication_failed``."""

    #: With ``email_not_verified``: the address waiting for confirmation, which the
    #: page may offer a new link for (the password was right, so the visitor holds it).
    unverified_email: str = ""

    messages = {
        "user_not_found": _(
            "The login and password you entered do not match an account. Check both and try again."
        ),
        "incorrect_password": _(
            "The login and password you entered do not match an account. Check both and try again."
        ),
        "user_inactive": _("This account is inactive. Contact the site's staff for help."),
        "email_not_verified": _(
            "Confirm your email address before you log in: follow the link we emailed "
            "you, or ask for a new one below."
        ),
    }


class EmailVerificationError(AccountError):
    """A confirmation link was bad, expired or already used."""

    messages = {
        "invalid_token": _(
            "This confirmation link is invalid or has already been used. Ask for a new one below."
        ),
        "expired_token": _("This confirmation link has expired. Ask for a new one below."),
        "incorrect_password": _(
            "Type the password of this account to confirm the address. If this is not "
            "your account, do not confirm: you can sign up with this address yourself."
        ),
        "address_taken": _(
            "This address was confirmed for another account, so it cannot be confirmed "
            "for this one. If it is yours, log in to that account, or reset its password."
        ),
    }

    def __init__(self, message=None, *, code=None, user=None, email_address=None) -> None:
        super().__init__(message, code=code)
        #: The address's owner, known only when the token was genuine (e.g. expired).
        self.user = user
        #: The address of a genuine link whose confirmer did not prove the account.
        self.email_address = email_address


class PasswordResetRequestError(AccountError):
    """A reset link was not sent. Views show the usual page anyway (only a rate limit
    is shown), so the answer never tells whether an address has an account."""


class PasswordResetError(AccountError):
    """A reset link was bad or expired, or the new password was refused."""

    messages = {
        "invalid_token": _(
            "This password reset link is invalid or has already been used. Ask for a new "
            "one below."
        ),
        "expired_token": _("This password reset link has expired. Ask for a new one below."),
    }

    def __init__(self, message=None, *, code=None, field_errors=None, user=None) -> None:
        super().__init__(message, code=code, field_errors=field_errors)
        #: The user the link is for, known only when the token was genuine.
        self.user = user


class PasswordChangeError(AccountError):
    """A logged-in user's password change or set was refused."""

    messages = {
        "incorrect_password": _("Your current password is not correct. Type it again."),
        "password_exists": _(
            "Your account already has a password: change it with your current password."
        ),
    }


class UserUpdateError(AccountError):
    """A profile update was refused; nothing was saved."""

    messages = {"user_not_found": _("This account no longer exists.")}


class UserDeletionError(AccountError):
    """An account was not deleted."""

    messages = {
        "incorrect_password": _("That is not your password. Type it again to confirm."),
        "user_not_found": _("This account no longer exists."),
    }


class EmailAddressError(AccountError):
    """An email-address action of the ``email`` page was refused.

    ``code`` is the ``error_type`` of ``email_address_failed``; ``reason`` says more
    precisely why (and picks the message): ``already_yours``, ``is_primary``,
    ``last_verified`` and ``already_verified`` are ``validation_error``s, ``not_yours``
    is ``not_found``.
    """

    messages = {
        "not_verified": _("Confirm this address before making it your primary one."),
        "limit_reached": _(
            "You have as many addresses as an account may have. Remove one to add another."
        ),
    }
    reasons = {
        "already_yours": ("validation_error", _("This address is already on your account.")),
        "not_yours": ("not_found", _("This address is not on your account.")),
        "is_primary": (
            "validation_error",
            _("This is your primary address: make another one primary first."),
        ),
        "last_verified": (
            "validation_error",
            _("This is your only confirmed address: confirm another one before removing it."),
        ),
        "already_verified": ("validation_error", _("This address is already confirmed.")),
    }

    def __init__(self, message=None, *, code=None, reason=None, field_errors=None) -> None:
        if reason is not None:
            code, default_message = self.reasons[reason]
            message = message or default_message
        super().__init__(message, code=code, field_errors=field_errors)
        #: The finer reason behind ``code``, where there is one.
        self.reason = reason


class EmailSendError(AccountError):
    """The email backend refused or failed to take a message."""

    default_code = "email_send_failed"


class UndeliverableAddress(EmailSendError):
    """The address bounced before: the app does not send to it any more."""

    messages = {
        "email_send_failed": _(
            "Email to this address bounced before, so we no longer send to it. Use another "
            "address, or ask the site's staff to check it."
        )
    }


class RateLimited(AccountError):
    """Too many attempts; ``retry_after`` is how many seconds until the next is allowed."""

    default_code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            ngettext(
                "Too many attempts. Please try again in %(minutes)s minute.",
                "Too many attempts. Please try again in %(minutes)s minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )
        self.retry_after = retry_after


class RateLimiterUnavailable(AccountError):
    """The cache that counts rate limits failed, and limits fail closed (the default,
    ``USERACCOUNTS_RATE_LIMITS_FAIL_OPEN = False``): the attempt is refused rather than
    let through uncounted, and answered 503 with ``Retry-After``."""

    default_code = "repository_error"
    #: Seconds to wait before trying again (the ``Retry-After`` header).
    retry_after = 30
