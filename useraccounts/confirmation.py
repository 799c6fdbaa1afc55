"""Confirming an address: the link proves the mailbox, and the confirmer must also prove
they hold the account, so nobody can confirm an address onto someone else's account.

The proof is one of: being logged in as the account; this browser signed up or added
the address (a cookie of HMAC tags set then); the account's password typed on the
confirmation page; or, for an account with no usable password, the link alone. When an
address is confirmed for one account, every other account's unverified row for it is
removed in the same transaction: only a verified address belongs to an account.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from . import ratelimit, signals
from .conf import app_settings, fill_frontend_url
from .emails import delivery_error_code
from .exceptions import (
    AccountError,
    EmailVerificationError,
    RateLimited,
    RateLimiterUnavailable,
)
from .models import EmailAddress, newest_waiting, normalize_email
from .passwords import PasswordsMixin
from .tokens import (
    TOKEN_PREFIX_LENGTH,
    TokenState,
    email_confirmation_token_generator,
)
from .users import display_name, has_username

#: The cookie that remembers which addresses this browser signed up with or added.
PROOF_COOKIE = "useraccounts_confirm"

PROOF_TAGS_KEPT = 5


def proof_tag(address: EmailAddress) -> str:
    """A tag only the server can make, naming one row (its id and creation time, so a
    row made again later under a reused id is another row)."""
    value = f"{address.pk}|{address.created_at.isoformat()}"
    return salted_hmac("useraccounts.confirmation.proof", value).hexdigest()[:20]


def remember_address(request: HttpRequest, response: HttpResponse, tag: str) -> None:
    """Let this browser confirm the address it signed up with or added, without the
    password. ``tag`` is :func:`proof_tag`, or a random one where telling the visitor
    that no row was made would reveal an account."""
    tags = [t for t in request.COOKIES.get(PROOF_COOKIE, "").split(".") if t and t != tag]
    response.set_cookie(
        PROOF_COOKIE,
        ".".join([*tags[-(PROOF_TAGS_KEPT - 1) :], tag]),
        max_age=app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


#: The cookie that carries the address typed on the signup or resend form to the "check
#: your inbox" page, for that page alone. A signed cookie, not the session: an anonymous
#: visitor gets no session row (a write that could fault after the mail went out). It
#: names only what this browser typed, known address or not, so it reveals no account.
SENT_COOKIE = "useraccounts_sent"
SENT_COOKIE_MAX_AGE = 3600
SENT_COOKIE_SALT = "useraccounts.confirmation_sent"


def remember_sent_to(request: HttpRequest, response: HttpResponse, email: str) -> HttpResponse:
    """Let this browser's next "check your inbox" page name ``email``."""
    response.set_signed_cookie(
        SENT_COOKIE,
        email,
        salt=SENT_COOKIE_SALT,
        max_age=SENT_COOKIE_MAX_AGE,
        path=reverse("useraccounts:confirmation_sent"),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


def sent_to(request: HttpRequest) -> str | None:
    """The address this browser asked a link for, if it did within the hour."""
    return request.get_signed_cookie(
        SENT_COOKIE, default=None, salt=SENT_COOKIE_SALT, max_age=SENT_COOKIE_MAX_AGE
    )


class ConfirmationMixin(PasswordsMixin):
    """Sending confirmation links and turning one into a verified address."""

    confirmation_token_generator = email_confirmation_token_generator

    def send_email_confirmation(
        self, request: HttpRequest | None, email_address: EmailAddress, *, signup: bool = False
    ) -> None:
        """Email a confirmation link for ``email_address``; raises ``EmailSendError``."""
        self._check_deliverable(email_address)
        token = self.confirmation_token_generator.make_token(email_address, email_address.pk)
        path = reverse("useraccounts:confirm_email", args=[token])
        link = self.email_link(request, "confirm_email", path, token=token)
        context = {
            "user": email_address.user,
            **self.account_context(email_address.user, email_address),
            "email_address": email_address,
            "activate_url": link,
            "signup": signup,
            "expire_hours": app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS // 3600,
        }
        user = email_address.user
        self.send_mail(
            request, kind="email_confirmation", to=email_address.email, context=context, user=user
        )
        self._send(
            signals.email_confirmation_sent,
            request,
            user=user,
            email_address=email_address,
            signup=signup,
        )

    def email_link(self, request: HttpRequest | None, name: str, path: str, **values: str) -> str:
        """The absolute link an email carries for ``name`` (``confirm_email`` or
        ``password_reset_confirm``): the front end's, from its template in
        ``USERACCOUNTS_FRONTEND_URLS`` filled with ``values``, where the site set one; else
        the app's own page at ``path``. A path (the page's, or a template's) is joined to
        the site by :meth:`build_absolute_url`; an absolute template is used as it is."""
        template = app_settings.FRONTEND_URLS.get(name)
        link = path if template is None else fill_frontend_url(template, values)
        if urlsplit(link).scheme:
            return link
        return self.build_absolute_url(request, link)

    def _send_email_confirmation_or_notice(
        self, request: HttpRequest | None, email_address: EmailAddress
    ) -> None:
        """A confirmation link for an address of this account; for one that another
        account has verified, a notice to its owner instead (the visitor sees the same)."""
        holder = (
            EmailAddress.objects.filter(email=email_address.email, verified=True)
            .exclude(user_id=email_address.user_id)
            .exists()
        )
        if holder:
            self.send_account_exists_notice(request, email_address.email, added=True)
        else:
            self.send_email_confirmation(request, email_address)

    def send_account_exists_notice(
        self, request: HttpRequest | None, email: str, *, added: bool = False
    ) -> None:
        """Tell an address's owner that someone tried to sign up with it, or (``added``)
        to add it to another account; not when mail to it bounces: the attempt must
        still look like any other."""
        if EmailAddress.objects.filter(email=email, undeliverable=True).exists():
            return
        try:  # a stranger repeating signups must not flood the owner's inbox
            ratelimit.consume("notify", request, key=email)
        except (RateLimited, RateLimiterUnavailable):
            return  # the signup still answers as a fresh one
        path = reverse("useraccounts:password_reset")
        context = {
            "email": email,
            "added": added,
            "reset_url": self.build_absolute_url(request, path),
        }
        self.send_mail(request, kind="account_exists", to=email, context=context)

    def _address_for_token(
        self, token: str, *, locked: list[EmailAddress] | None = None
    ) -> EmailAddress:
        """The address a genuine, unexpired token names. With ``locked``, the rows of that
        address on every account are fetched in the same query, locked for the caller's
        transaction (in one order, so concurrent confirmations queue), and put in it."""
        address_id = self.confirmation_token_generator.parse_id(token)
        if address_id is None:
            raise EmailVerificationError(code="invalid_token")
        if locked is None:
            rows = list(EmailAddress.objects.select_related("user").filter(pk=address_id))
        else:
            same_email = EmailAddress.objects.filter(pk=address_id).values("email")
            locked += self._locked_rows(email__in=same_email)
            rows = locked
        address = next((row for row in rows if row.pk == address_id), None)
        if address is None:
            raise EmailVerificationError(code="invalid_token")
        state = self.confirmation_token_generator.check_token(address, token)
        if state is TokenState.EXPIRED:
            raise EmailVerificationError(code="expired_token", user=address.user)
        if state is not TokenState.VALID:
            raise EmailVerificationError(code="invalid_token")
        return address

    @staticmethod
    def _locked_rows(**lookups: Any) -> list[EmailAddress]:
        return list(
            EmailAddress.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(**lookups)
            .order_by("pk")
        )

    def confirmation_needs_password(
        self, request: HttpRequest | None, email_address: EmailAddress
    ) -> bool:
        """Whether the confirmation page must ask for the account's password: not for a
        visitor logged in as the account, nor in the browser that signed up with or added
        the address, nor for an account that has no usable password (the link alone)."""
        if request is None:
            return False  # code, the admin or a command: the caller vouches
        if getattr(request, "user", None) is not None and request.user.pk == email_address.user_id:
            return False
        if proof_tag(email_address) in request.COOKIES.get(PROOF_COOKIE, "").split("."):
            return False
        return email_address.user.has_usable_password()

    def _check_holder(
        self, request: HttpRequest | None, address: EmailAddress, password: str | None
    ) -> bool:
        """Raise unless the confirmer holds the account; True if the password proved it."""
        if not self.confirmation_needs_password(request, address):
            return False
        ratelimit.check("confirm_password", request, user_id=address.user_id)
        if password and self._check_password(request, address.user, password):
            return True
        if password:
            ratelimit.hit("confirm_password", request, user_id=address.user_id)
        raise EmailVerificationError(
            code="incorrect_password", user=address.user, email_address=address
        )

    def mark_email_verified(
        self, request: HttpRequest | None, email_address: EmailAddress
    ) -> bool:
        """Mark an address verified for its account and remove every other account's
        unverified row for it; False if it already was verified. Raises
        ``address_taken`` when another account has it verified.

        Call it inside the caller's transaction: the rows are locked, in one order, for
        the rest of it, so concurrent confirmations of one address for several accounts
        queue instead of deadlocking, and the database's one-verified-holder constraint
        settles any that still race.
        """
        rows = self._locked_rows(email=email_address.email)
        return self._claim(request, email_address, rows)

    def _claim(
        self, request: HttpRequest | None, email_address: EmailAddress, rows: list[EmailAddress]
    ) -> bool:
        """:meth:`mark_email_verified`, with the address's rows already locked."""
        mine = next((row for row in rows if row.pk == email_address.pk), None)
        if any(row.verified and row.user_id != email_address.user_id for row in rows):
            raise EmailVerificationError(code="address_taken", user=email_address.user)
        if mine is None:  # removed since it was read: another account confirmed it
            raise EmailVerificationError(code="invalid_token", user=email_address.user)
        if mine.verified:
            return False
        email_address.verified, email_address.verified_at = True, timezone.now()
        try:  # the caller's transaction rolls back on the error raised here
            email_address.save(update_fields=["verified", "verified_at"])
        except IntegrityError as exc:
            raise EmailVerificationError(code="address_taken", user=email_address.user) from exc
        for row in rows:
            if row.user_id != email_address.user_id:
                self._release(request, row)
        self._send(
            signals.email_confirmed, request, user=email_address.user, email_address=email_address
        )
        return True

    def _release(self, request: HttpRequest | None, row: EmailAddress) -> None:
        """Remove another account's unverified row for an address just confirmed; its
        links stop working. An account's email field that named it is cleared, so the
        account cannot be mistaken for one that had the address before the app; a
        signup left with no address at all, that never logged in, is deleted: it was
        waiting for this address only."""
        removed = copy.copy(row)
        row.delete()
        user = row.user
        self._send(signals.email_removed, request, user=user, email_address=removed)
        email_field = user.get_email_field_name()
        if user.last_login is None and not EmailAddress.objects.filter(user_id=user.pk).exists():
            user_id, username = user.pk, display_name(user)
            user.delete()
            self._send(signals.user_deleted, request, user_id=user_id, username=username)
        elif has_username() and normalize_email(getattr(user, email_field) or "") == row.email:
            setattr(user, email_field, "")
            user.save(update_fields=[email_field])

    def adopt_legacy_address(
        self, request: HttpRequest | None, user: AbstractBaseUser
    ) -> EmailAddress | None:
        """Give a user the app has no address rows for (made before the app was
        installed, with ``createsuperuser`` or by staff) a verified primary row from the
        user record, the first time it is needed; None if the user has rows already, or
        an email that is not valid or is verified on another account.

        The address counts as verified because the site, not a visitor, wrote it: the
        app's own signup always makes a row, and it clears the email field of an account
        whose unverified address another account confirmed.
        """
        email = normalize_email(getattr(user, user.get_email_field_name(), "") or "")
        if not email or EmailAddress.objects.filter(user_id=user.pk).exists():
            return None
        try:
            validate_email(email)
            with transaction.atomic():
                address = EmailAddress.objects.create(
                    user=user, email=email, primary=True, verified=True, verified_at=timezone.now()
                )
                self._send(signals.email_added, request, user=user, email_address=address)
        except (ValidationError, IntegrityError):
            return None
        return address

    def check_email_confirmation(self, request: HttpRequest | None, token: str) -> EmailAddress:
        """The address a confirmation token is for, changing nothing (for GET)."""
        try:
            return self._address_for_token(token)
        except Exception as exc:
            raise self._verification_failed(request, exc, token) from exc

    @sensitive_variables("password")
    def verify_email(
        self, request: HttpRequest | None, token: str, *, password: str | None = None
    ) -> EmailAddress:
        """Mark the token's address verified for its account; the token cannot be used
        again, and every other account's unverified row for the address is removed.

        The link proves the mailbox; the confirmer must also hold the account (see
        :meth:`confirmation_needs_password`): logged in as it, in the browser that signed
        up with or added the address, or with the account's ``password``.
        """
        try:
            with transaction.atomic():
                rows: list[EmailAddress] = []
                address = self._address_for_token(token, locked=rows)
                if self._check_holder(request, address, password):
                    # The password proved it: hashed again under a new salt, it ends
                    # every other session of the account, as a password change does.
                    self._store_password(request, address.user, password, validate=False)
                self._claim(request, address, rows)
        except Exception as exc:
            raise self._verification_failed(request, exc, token) from exc
        return address

    def resend_email_confirmation(self, request: HttpRequest | None, *, email: str) -> None:
        """Send a fresh link if ``email`` is waiting to be confirmed.

        Only a rate limit is raised: the caller shows the same page whatever happened, so
        the answer does not tell whether the address has an account; every other
        failure sends ``email_confirmation_send_failed`` and is logged by the send path.
        """
        email = normalize_email(str(email))
        user = None
        try:
            ratelimit.consume("confirm_email", request, key=email)
            rows = EmailAddress.objects.for_email(email)
            holder = next((row for row in rows if row.verified), None)
            if holder is not None:
                user = holder.user
                self.send_no_account_note(request, email, "confirmed")
                raise EmailVerificationError(code="already_verified")
            address = newest_waiting(rows)
            if address is None:
                self.send_no_account_note(request, email, "resend")
                raise EmailVerificationError(code="user_not_found")
            user = address.user
            with transaction.atomic():
                self.send_email_confirmation(request, address)
        except Exception as exc:
            error = self._fail(request, exc, EmailVerificationError, None)
            self._send_robust(
                signals.email_confirmation_send_failed,
                request,
                email=email,
                user=user,
                error_type=delivery_error_code(exc, error),
                exception=exc,
            )
            if isinstance(error, RateLimited | RateLimiterUnavailable):
                # A limit, or the limiter's cache down: the same for every address.
                raise error from exc

    def account_context(self, user: AbstractBaseUser, email_address: Any = None) -> dict:
        """How pages and emails name an account: its username, or when it was made."""
        if has_username():
            return {"account_username": str(user.get_username())}
        created = getattr(user, "date_joined", None) or getattr(email_address, "created_at", None)
        return {"account_username": "", "account_created": created}

    def _verification_failed(self, request, exc: Exception, token: str) -> AccountError:
        return self._fail(
            request,
            exc,
            EmailVerificationError,
            signals.user_email_verification_failed,
            token_prefix=token[:TOKEN_PREFIX_LENGTH],
            user=exc.user if isinstance(exc, EmailVerificationError) else None,
        )
