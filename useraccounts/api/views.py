"""The API's session and password endpoints: each reads JSON, checks it with the HTML
pages' own form, calls the same manager method and maps its error (see
:mod:`useraccounts.api.errors`). The protections are the manager's, so they are the
HTML flow's: one hash per login, the same rate limits, signals with the request,
single-use links, and the same answer for known and unknown addresses wherever the
HTML pages give one."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.crypto import get_random_string
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.debug import sensitive_variables

from ..conf import app_settings
from ..confirmation import proof_tag, remember_address
from ..exceptions import AccountError, RateLimited
from ..forms import (
    PASSWORD_MAX_LENGTH,
    EmailForm,
    LoginForm,
    PasswordChangeForm,
    SetPasswordForm,
    SignupForm,
)
from ..models import EmailAddress, normalize_email
from . import errors
from .auth import BROWSER
from .base import ApiView, address_data, logger

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


class CsrfView(ApiView):
    """GET: set Django's CSRF cookie and return its token, for a browser client to send
    back in the ``X-CSRFToken`` header (``CSRF_HEADER_NAME``) of every unsafe request."""

    http_method_names = ["get", "options"]

    @method_decorator(ensure_csrf_cookie)
    def get(self, request: HttpRequest) -> HttpResponse:
        header = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
        return self.ok({"csrf_token": get_token(request), "header": header})


class SessionView(ApiView):
    """GET: who is logged in, with their addresses; 401 when nobody is."""

    http_method_names = ["get", "options"]
    login_required = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.session_answer(request.user)


class SignupView(ApiView):
    """POST ``username`` (when the user model has one), ``email``, ``password1``,
    ``password2``: create the account and send the confirmation email.

    With mandatory verification the answer is the same whether or not the address was
    taken (``USERACCOUNTS_PREVENT_ENUMERATION``); otherwise the new user is logged in,
    as by the HTML page.
    """

    http_method_names = ["post", "options"]
    input_fields = {"username": str, "email": str, "password1": str, "password2": str}
    error_field_map = {"password": "password1"}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        if not app_settings.SIGNUP_OPEN:
            return errors.error("signup_closed")
        if request.user.is_authenticated:
            return errors.error("already_authenticated")
        form = SignupForm(data=self.form_data())
        try:
            user = self.register_from(form)
        except AccountError as error:
            if error.shown_as_success:
                # A taken address answers as a fresh signup does, cookie included.
                email = normalize_email(self.typed(form, "email"))
                return self.remember(self.signed_up(email))
            return self.account_error(form, error)
        address = getattr(user, "useraccounts_address", None)
        if app_settings.EMAIL_VERIFICATION == "mandatory":
            email = (
                address.email
                if address is not None
                else normalize_email(self.typed(form, "email"))
            )
            return self.remember(self.signed_up(email), address)
        message = _(
            "Your account is created, but we could not log you in. Please log in in a moment."
        )
        refused = self.log_in_after_saving(user, message)
        if refused is not None:  # the account is made; the session is not
            return self.remember(refused, address)
        answer = self.session_answer(user, 201, logged_in=True)
        return self.remember(answer, address)

    def signed_up(self, email: str) -> HttpResponse:
        """The answer of a signup that waits for its address to be confirmed."""
        data = {
            "email": email,
            "logged_in": False,
            "email_verification": app_settings.EMAIL_VERIFICATION,
        }
        return self.ok(data, 201)

    def remember(
        self, response: HttpResponse, address: EmailAddress | None = None
    ) -> HttpResponse:
        """Let this client confirm the new address without the password (the cookie the
        HTML page sets: a random tag where no row was made, so nothing is told)."""
        if address is not None:
            tag = proof_tag(address)
        else:
            tag = get_random_string(20, "0123456789abcdef")
        remember_address(self.request, response, tag)
        return response


class ConfirmEmailView(ApiView):
    """POST ``token`` (from the emailed link) and, when the account must be proven,
    ``password``: the address is verified and the link stops working."""

    http_method_names = ["post", "options"]
    input_fields = {"token": str, "password": str}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            address = self.manager.verify_email(
                request,
                self.text("token"),
                password=self.text("password")[:PASSWORD_MAX_LENGTH],
            )
        except AccountError as error:
            if error.code == "incorrect_password":  # the link is good; the account unproven
                return self.account_error(None, error, known=("password",), field="password")
            return self.account_error(None, error)
        return self.ok({"email_address": address_data(address)})


class ConfirmEmailCheckView(ApiView):
    """POST ``token``: what the HTML confirmation page shows on GET, changing nothing:
    the address, how the account is named and whether ``password`` will be needed. A
    POST, so the token stays out of URLs and logs."""

    http_method_names = ["post", "options"]
    input_fields = {"token": str}

    def post(self, request: HttpRequest) -> HttpResponse:
        manager = self.manager
        try:
            address = manager.check_email_confirmation(request, self.text("token"))
        except AccountError as error:
            return self.account_error(None, error)
        data = {
            "email_address": address_data(address),
            **manager.account_context(address.user, address),
            "password_required": manager.confirmation_needs_password(request, address),
        }
        return self.ok(data)


class SameAnswerView(ApiView):
    """POST ``email``: mail to the address, answered alike for every address (as
    :class:`~useraccounts.views.SameAnswerMixin` does): only a rate limit, or a fault
    every address would meet, is told."""

    http_method_names = ["post", "options"]
    input_fields = {"email": str}
    #: The manager operation that takes ``email`` and raises on every failure.
    manager_method: str
    answer = _("If this address can receive it, we sent an email to it. Check your inbox.")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EmailForm(data=self.form_data())
        if not form.is_valid():
            return self.form_errors(form)
        try:
            getattr(self.manager, self.manager_method)(request, email=form.cleaned_data["email"])
        except RateLimited as error:
            return self.rate_limited(error)
        except AccountError as error:
            if self.shown_as_fault(error):
                return self.unavailable(error)
        return self.ok({"message": str(self.answer)}, 202)


class ResendConfirmationView(SameAnswerView):
    manager_method = "resend_email_confirmation"


class PasswordResetView(SameAnswerView):
    manager_method = "request_password_reset"


class LoginView(ApiView):
    """POST ``login``, ``password``, ``remember`` and ``client`` (``"app"``: the answer
    carries a session token instead of setting the session cookie)."""

    http_method_names = ["post", "options"]
    input_fields = {"login": str, "password": str, "remember": bool}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        form = LoginForm(data=self.form_data(), methods=app_settings.LOGIN_METHODS)
        if not form.is_valid():
            return self.form_errors(form)
        data = form.cleaned_data
        manager = self.manager
        try:
            user = manager.authenticate_user(
                request, login=data["login"], password=data["password"]
            )
            # An app's token lives as long as a remembered cookie.
            remember = data["remember"] or self.client.kind != BROWSER
            manager.login_user(request, user, remember=remember)
        except AccountError as error:
            # One answer for an unknown login and a wrong password, as on the page.
            code = "incorrect_password" if error.code == "user_not_found" else None
            return self.account_error(None, error, code=code)
        response = self.session_answer(user)
        manager.remember_device(request, response, user)  # spared the lockout later
        return response


class LogoutView(ApiView):
    """POST: end the session (the cookie's, or the token's); 204 whether or not anyone
    was logged in."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            self.manager.logout_user(request)
        except DatabaseError:
            logger.exception("Could not end the session in %s", type(self).__name__)
            message = _(
                "We could not log you out: you are still logged in. Please try again in a moment."
            )
            return self.unavailable(AccountError(code="repository_error"), message=message)
        return self.ok(None)


class PasswordResetConfirmView(ApiView):
    """POST ``uidb64`` and ``token`` (from the emailed link), ``new_password1`` and
    ``new_password2``. The link is checked first: a bad one is ``invalid_token``
    whatever was typed. With ``USERACCOUNTS_LOGIN_ON_PASSWORD_RESET`` the user is then
    logged in (an app gets a session token)."""

    http_method_names = ["post", "options"]
    input_fields = {"uidb64": str, "token": str, "new_password1": str, "new_password2": str}
    error_field_map = {"password": "new_password1"}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        form = SetPasswordForm(data=self.form_data())
        valid = form.is_valid()
        try:
            user = self.manager.reset_password(
                request,
                uidb64=self.text("uidb64"),
                token=self.text("token"),
                new_password=self.typed(form, "new_password1"),
                input_errors=None if valid else self.input_errors(form),
            )
        except AccountError as error:
            return self.account_error(form, error)
        if not app_settings.LOGIN_ON_PASSWORD_RESET:
            return self.ok({"logged_in": False})
        message = _(
            "Your password is changed, but we could not log you in. Please log in in a moment."
        )
        refused = self.log_in_after_saving(user, message)
        if refused is not None:  # the password is set; the session is not
            return refused
        return self.session_answer(user, logged_in=True)


class PasswordResetCheckView(ApiView):
    """POST ``uidb64`` and ``token``: whether the reset link still works, changing
    nothing, so a front end can say "this link expired" before asking for a password."""

    http_method_names = ["post", "options"]
    input_fields = {"uidb64": str, "token": str}

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            self.manager.check_password_reset_link(
                request, uidb64=self.text("uidb64"), token=self.text("token")
            )
        except AccountError as error:
            return self.account_error(None, error)
        return self.ok({"valid": True})


class PasswordChangeView(ApiView):
    """POST ``old_password``, ``new_password1``, ``new_password2`` (no ``old_password``
    for an account that has no usable password: one is set). This session stays
    logged in, under a new key (an app gets its new token); every other one ends."""

    http_method_names = ["post", "options"]
    login_required = True
    input_fields = {"old_password": str, "new_password1": str, "new_password2": str}
    error_field_map = {"password": "new_password1"}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        form_class = PasswordChangeForm if user.has_usable_password() else SetPasswordForm
        form = form_class(data=self.form_data())
        if not form.is_valid():
            return self.form_errors(form)
        data = form.cleaned_data
        try:
            if "old_password" in data:
                self.manager.change_password(
                    request,
                    user,
                    old_password=data["old_password"],
                    new_password=data["new_password1"],
                )
            else:
                self.manager.set_password(request, user, new_password=data["new_password1"])
        except AccountError as error:
            return self.account_error(form, error)
        return self.session_answer(user)


@cache
def openapi_document() -> bytes:
    """The OpenAPI document shipped beside this module, read once."""
    return OPENAPI_PATH.read_bytes()


class OpenApiView(ApiView):
    """GET: the API's OpenAPI 3.1 document (``openapi.json``), its detailed contract."""

    http_method_names = ["get", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(openapi_document(), content_type="application/json")
