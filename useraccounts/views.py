"""Thin views: each reads a form, calls the account manager and maps its errors.

Behaviour is swapped through class attributes (``form_class``, ``template_name``,
``success_url``) as in ``django.contrib.auth.views``. Security decorators sit on
``dispatch``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.crypto import get_random_string
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from .conf import app_settings
from .confirmation import proof_tag, remember_address
from .exceptions import AccountError, RateLimited
from .forms import PASSWORD_MAX_LENGTH, EmailForm, LoginForm, SignupForm
from .manager import AccountManager, get_account_manager, safe_next_url
from .models import EmailAddress
from .tokens import TOKEN_PREFIX_LENGTH

logger = logging.getLogger("useraccounts")
protected = [sensitive_post_parameters(), csrf_protect, never_cache]


class AccountViewMixin:
    """Reaches the manager and turns its errors into form errors or a 429 page."""

    rate_limited_template_name = "useraccounts/rate_limited.html"
    #: Where a manager error about one input lands in this view's form.
    error_field_map: dict[str, str] = {}

    @property
    def manager(self) -> AccountManager:
        return get_account_manager()

    def rate_limited(self, error: RateLimited) -> HttpResponse:
        response = render(
            self.request, self.rate_limited_template_name, {"error": error}, status=429
        )
        response["Retry-After"] = str(error.retry_after)
        return response

    def bad_link(self, error: AccountError, token: str) -> HttpResponse:
        """The page for a link whose token is bad or expired, with a form for a new one."""
        if isinstance(error, RateLimited):
            return self.rate_limited(error)
        context = {"error": error, "form": EmailForm()}
        # A genuine link for an address another account confirmed first: a conflict.
        status = 409 if error.code == "address_taken" else 400
        response = render(self.request, self.invalid_template_name, context, status=status)
        # Django logs the path of every 4xx response, and this path holds the token:
        # log its prefix only, and mark the response as logged.
        logger.warning(
            "Bad link in %s (%s, token %s…)",
            type(self).__name__,
            error.code,
            token[:TOKEN_PREFIX_LENGTH],
        )
        response._has_been_logged = True
        return response

    def account_error(self, form, error: AccountError) -> HttpResponse:
        if isinstance(error, RateLimited):
            return self.rate_limited(error)
        if not form.errors:  # errors the form found itself are already on it
            for field, msgs in (error.field_errors or {None: [error.message]}).items():
                field = self.error_field_map.get(field, field)
                form.add_error(field if field in form.fields else None, msgs)
        return self.form_invalid(form)


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
            return redirect(settings.LOGIN_REDIRECT_URL)
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        try:
            user = self.manager.register_user_from_form(request, form)
        except AccountError as error:
            if error.shown_as_success:
                # A taken address answers as a fresh signup does, cookie included (a
                # tag that names no row), so the answer tells nothing about its owner.
                return self.remember(HttpResponseRedirect(self.get_success_url()), None)
            return self.account_error(form, error)
        if app_settings.EMAIL_VERIFICATION == "mandatory":
            response = HttpResponseRedirect(self.get_success_url())
        else:
            self.manager.login_user(request, user)
            response = HttpResponseRedirect(self.manager.get_login_redirect_url(request))
        return self.remember(response, getattr(user, "useraccounts_address", None))

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
        except AccountError as error:
            if error.code == "email_not_verified":
                form.needs_confirmation = True
            return self.account_error(form, error)
        manager.login_user(self.request, user, remember=form.cleaned_data["remember"])
        return HttpResponseRedirect(manager.get_login_redirect_url(self.request))


@method_decorator([csrf_protect, never_cache], name="dispatch")
class LogoutView(AccountViewMixin, TemplateView):
    """GET asks for confirmation; only a POST logs out (a link must not end a session)."""

    template_name = "useraccounts/logout.html"

    def get_success_url(self) -> str:
        return safe_next_url(self.request) or settings.LOGOUT_REDIRECT_URL or "/"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.manager.logout_user(request)
        return HttpResponseRedirect(self.get_success_url())


class ConfirmationSentView(TemplateView):
    """ "Check your inbox", with a form to ask for another link."""

    template_name = "useraccounts/confirmation_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "form": EmailForm()}


@method_decorator(protected, name="dispatch")
class ConfirmEmailView(AccountViewMixin, TemplateView):
    """GET only shows the address and a button, since mail scanners prefetch links;
    the POST confirms."""

    template_name = "useraccounts/confirm_email.html"
    invalid_template_name = "useraccounts/confirm_email_invalid.html"
    success_url = reverse_lazy("useraccounts:login")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            address = self.manager.check_email_confirmation(request, kwargs["token"])
        except AccountError as error:
            return self.bad_link(error, kwargs["token"])
        return self.render_to_response(self.get_context_data(email_address=address))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        address = context["email_address"]
        return {
            **context,
            **self.manager.account_context(address.user, address),
            "ask_password": self.manager.confirmation_needs_password(self.request, address),
        }

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = kwargs["token"]
        try:
            address = self.manager.verify_email(
                request,
                token,
                password=str(request.POST.get("password", ""))[:PASSWORD_MAX_LENGTH],
            )
        except AccountError as error:
            if error.code != "incorrect_password":
                return self.bad_link(error, token)
            # The link is good; the visitor did not prove they hold the account.
            context = self.get_context_data(email_address=error.email_address, error=error)
            return self.render_to_response(context, status=400)
        messages.success(
            request, _("%(email)s is confirmed.") % {"email": address.email}, fail_silently=True
        )
        if request.user.is_authenticated:
            return redirect("useraccounts:email")
        return HttpResponseRedirect(self.success_url)


@method_decorator(protected, name="dispatch")
class ResendConfirmationView(AccountViewMixin, FormView):
    """Send a new confirmation link; the page is the same whether the address is known."""

    form_class = EmailForm
    template_name = "useraccounts/resend_confirmation.html"
    success_url = reverse_lazy("useraccounts:confirmation_sent")

    def form_valid(self, form: EmailForm) -> HttpResponse:
        try:
            self.manager.resend_email_confirmation(self.request, email=form.cleaned_data["email"])
        except AccountError as error:
            return self.account_error(form, error)
        return HttpResponseRedirect(self.get_success_url())
