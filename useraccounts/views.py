"""Thin views: each reads a form, calls the account manager and maps its errors.

Behaviour is swapped through class attributes (``form_class``, ``template_name``,
``success_url``) as in ``django.contrib.auth.views``. Security decorators sit on
``dispatch``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connections, router
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse_lazy
from django.utils.crypto import get_random_string
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from .conf import app_settings
from .confirmation import proof_tag, remember_address, remember_sent_to
from .error_views import rate_limited_response, unavailable_response
from .exceptions import AccountError, RateLimited, RateLimiterUnavailable, UndeliverableAddress
from .forms import EmailForm, LoginForm, SignupForm
from .login import safe_next_url
from .manager import AccountManager, get_account_manager
from .models import EmailAddress
from .tokens import TOKEN_PREFIX_LENGTH

logger = logging.getLogger("useraccounts")
protected = [sensitive_post_parameters(), csrf_protect, never_cache]


class AccountViewMixin:
    """Reaches the manager and turns its errors into form errors, a 429 page or, for a
    fault of the database, the cache or the email backend, a 503 page."""

    rate_limited_template_name = "useraccounts/rate_limited.html"
    unavailable_template_name = "useraccounts/unavailable.html"
    #: Seconds the 503 page asks the client to wait (``Retry-After``), unless the error
    #: says (``retry_after``).
    unavailable_retry_after = 30
    #: Where a manager error about one input lands in this view's form.
    error_field_map: dict[str, str] = {}

    @property
    def manager(self) -> AccountManager:
        return get_account_manager()

    @staticmethod
    def is_fault(error: AccountError) -> bool:
        """Whether the error is a fault of the infrastructure, which a visitor cannot fix:
        the database or the cache (``repository_error``), or the email backend
        (``email_send_failed``; an address that bounced before is the visitor's to fix)."""
        if isinstance(error, UndeliverableAddress):
            return False
        return error.code in ("repository_error", "email_send_failed")

    def unavailable(
        self,
        error: AccountError,
        *,
        message: str | None = None,
        onward: tuple[str, str] | None = None,
        token: str | None = None,
    ) -> HttpResponse:
        """The 503 page: what happened, to try again in a moment, and a way onward
        (``onward``: a URL and its label; by default this page again)."""
        response = unavailable_response(
            self.request,
            error,
            message=message,
            onward=onward,
            template_name=self.unavailable_template_name,
            retry_after=getattr(error, "retry_after", None) or self.unavailable_retry_after,
        )
        if token is not None:
            self.log_link_response(response, logging.ERROR, "Service unavailable", error, token)
        return response

    def log_link_response(
        self, response: HttpResponse, level: int, what: str, error: AccountError, token: str
    ) -> None:
        """Django logs the path of every 4xx and 5xx response, and a link's path holds its
        token: log the token's prefix only, and mark the response as logged."""
        logger.log(
            level,
            "%s in %s (%s, token %s…)",
            what,
            type(self).__name__,
            error.code,
            token[:TOKEN_PREFIX_LENGTH],
        )
        response._has_been_logged = True

    def shown_as_fault(self, error: AccountError) -> bool:
        """Whether a view that answers alike for every address (reset request, resend)
        shows this failure as the 503 page. Only a fault that strikes every address
        alike is shown: the rate limiter's cache, or a database that cannot answer at
        all. A failed send, or a write only an account has to make, would tell that the
        address has one: the usual page hides it, while its failure signal and the log
        tell the site's staff."""
        if isinstance(error, RateLimiterUnavailable):
            return True
        return error.code == "repository_error" and not database_answers()

    def log_in_after_saving(self, user: Any, message: str) -> HttpResponse | None:
        """Log ``user`` in after an operation saved its work; None, or the 503 page
        saying what was saved (``message``) when the session could not be started."""
        try:
            self.manager.login_user(self.request, user)
        except AccountError as error:
            login = (str(reverse_lazy("useraccounts:login")), _("Log in"))
            return self.unavailable(error, message=message, onward=login)
        return None

    def rate_limited(self, error: RateLimited) -> HttpResponse:
        return rate_limited_response(self.request, error, self.rate_limited_template_name)

    def bad_link(self, error: AccountError, token: str) -> HttpResponse:
        """The page for a link whose token is bad or expired, with a form for a new one."""
        if isinstance(error, RateLimited):
            return self.rate_limited(error)
        if self.is_fault(error):  # a genuine link may work again in a moment
            return self.unavailable(error, token=token)
        context = {"error": error, "form": EmailForm()}
        # A genuine link for an address another account confirmed first: a conflict.
        status = 409 if error.code == "address_taken" else 400
        response = render(self.request, self.invalid_template_name, context, status=status)
        self.log_link_response(response, logging.WARNING, "Bad link", error, token)
        return response

    def account_error(self, form, error: AccountError) -> HttpResponse:
        if isinstance(error, RateLimited):
            return self.rate_limited(error)
        if self.is_fault(error):
            return self.unavailable(error)
        for field, msgs in (error.field_errors or {None: [error.message]}).items():
            field = self.error_field_map.get(field, field)
            field = field if field in form.fields else None
            # The form's own errors went to the manager too: show each once.
            if not form.has_error(field or "__all__") and msgs:
                form.add_error(field, msgs)
        return self.form_invalid(form)

    @staticmethod
    def typed(form, field: str) -> str:
        """A field's cleaned value, or what was typed where the form refused it."""
        if field in getattr(form, "cleaned_data", {}):
            return form.cleaned_data[field]
        return str(form.data.get(form.add_prefix(field), ""))

    def register_from(self, form) -> Any:
        """Sign up with what a signup form was given (HTML and JSON alike): the
        manager checks every field, and the form's own errors go in with its checks."""
        valid = form.is_valid()
        return self.manager.register_user(
            self.request,
            username=self.typed(form, "username"),
            email=self.typed(form, "email"),
            password=self.typed(form, "password1"),
            input_errors=None if valid else self.input_errors(form),
        )

    def input_errors(self, form) -> dict[str | None, list[str]]:
        """The form's errors as the manager names the fields (``error_field_map``
        read backwards), for an operation that reports them with its own."""
        names = {form_field: name for name, form_field in self.error_field_map.items()}
        errors: dict[str | None, list[str]] = {}
        for field, found in form.errors.items():
            name = None if field == "__all__" else names.get(field, field)
            errors.setdefault(name, []).extend(found)
        return errors


def database_answers() -> bool:
    """Whether the database that holds the accounts answers a trivial query now."""
    try:
        with connections[router.db_for_read(EmailAddress)].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


@method_decorator(protected, name="dispatch")
class SignupView(AccountViewMixin, FormView):
    """Create an account; with mandatory verification, the user logs in after confirming."""

    form_class = SignupForm
    template_name = "useraccounts/signup.html"
    closed_template_name = "useraccounts/signup_closed.html"
    success_url = reverse_lazy("useraccounts:confirmation_sent")
    error_field_map = {"password": "password1"}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not app_settings.SIGNUP_OPEN:
            return render(request, self.closed_template_name, status=403)
        if request.user.is_authenticated:
            return HttpResponseRedirect(self.manager.get_login_redirect_url(request))
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        try:
            user = self.register_from(form)
        except AccountError as error:
            if error.shown_as_success:
                # A taken address answers as a fresh signup does, cookies included (a
                # tag that names no row), so the answer tells nothing about its owner.
                return self.remember(self.check_your_inbox(form), None)
            return self.account_error(form, error)
        address = getattr(user, "useraccounts_address", None)
        if app_settings.EMAIL_VERIFICATION == "mandatory":
            response = self.check_your_inbox(form)
        else:
            message = _(
                "Your account is created, but we could not log you in. Please log in in a moment."
            )
            refused = self.log_in_after_saving(user, message)
            if refused is not None:  # the account is made; the session is not
                return self.remember(refused, address)
            response = HttpResponseRedirect(self.manager.get_login_redirect_url(request))
        return self.remember(response, address)

    def check_your_inbox(self, form: SignupForm) -> HttpResponse:
        """The way to "check your inbox", which names the address typed."""
        response = HttpResponseRedirect(self.get_success_url())
        return remember_sent_to(self.request, response, self.typed(form, "email"))

    def remember(self, response: HttpResponse, address: EmailAddress | None) -> HttpResponse:
        """Let this browser confirm the new address without typing the password."""
        tag = (
            proof_tag(address)
            if address is not None
            else get_random_string(20, "0123456789abcdef")
        )
        remember_address(self.request, response, tag)
        return response


@method_decorator(protected, name="dispatch")
class LoginView(AccountViewMixin, FormView):
    """Log in by username or email; an unverified account is offered a new link."""

    form_class = LoginForm
    template_name = "useraccounts/login.html"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "methods": app_settings.LOGIN_METHODS}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "next": safe_next_url(self.request) or ""}

    def form_valid(self, form: LoginForm) -> HttpResponse:
        manager = self.manager
        try:
            user = manager.authenticate_user(
                self.request,
                login=form.cleaned_data["login"],
                password=form.cleaned_data["password"],
            )
            manager.login_user(self.request, user, remember=form.cleaned_data["remember"])
        except AccountError as error:
            if error.code == "email_not_verified":
                form.needs_confirmation = True
                form.unverified_email = error.unverified_email
            return self.account_error(form, error)
        response = HttpResponseRedirect(manager.get_login_redirect_url(self.request))
        manager.remember_device(self.request, response, user)  # spared the lockout later
        return response


@method_decorator([csrf_protect, never_cache], name="dispatch")
class LogoutView(AccountViewMixin, TemplateView):
    """GET asks for confirmation; only a POST logs out (a link must not end a session)."""

    template_name = "useraccounts/logout.html"

    def get_success_url(self) -> str:
        return safe_next_url(self.request) or resolve_url(app_settings.LOGOUT_REDIRECT_URL)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.manager.logout_user(request)
        except DatabaseError:
            # The session store could not end the session: the visitor is still logged
            # in (a 5xx answer leaves the session as it was stored).
            logger.exception("Could not end the session in %s", type(self).__name__)
            message = _(
                "We could not log you out: you are still logged in. Please try again in a moment."
            )
            return self.unavailable(AccountError(code="repository_error"), message=message)
        return HttpResponseRedirect(self.get_success_url())


class SameAnswerMixin(AccountViewMixin):
    """A form that asks for mail to an address and answers alike for every address, so
    the answer never tells whether it has an account: only a rate limit, or a fault
    every address would meet, is shown (see :meth:`AccountViewMixin.shown_as_fault`).
    Anything else is signalled and logged by the manager, never shown."""

    #: The manager operation that takes ``email`` and raises on every failure.
    manager_method: str

    def form_valid(self, form: EmailForm) -> HttpResponse:
        send = getattr(self.manager, self.manager_method)
        try:
            send(self.request, email=form.cleaned_data["email"])
        except RateLimited as error:
            return self.rate_limited(error)
        except AccountError as error:
            if self.shown_as_fault(error):
                return self.unavailable(error)
        return self.sent(form.cleaned_data["email"])

    def sent(self, email: str) -> HttpResponse:
        """The answer once the mail to ``email`` is handled, alike for every address."""
        return HttpResponseRedirect(self.get_success_url())
