"""The password pages: reset by emailed link, change, and set."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from .conf import app_settings
from .exceptions import AccountError
from .forms import EmailForm, PasswordChangeForm, SetPasswordForm
from .views import AccountViewMixin, SameAnswerMixin, protected


@method_decorator(protected, name="dispatch")
class PasswordResetView(SameAnswerMixin, FormView):
    """Ask for a reset link. Known or unknown address, the next page is the same."""

    form_class = EmailForm
    template_name = "useraccounts/password_reset.html"
    success_url = reverse_lazy("useraccounts:password_reset_done")
    manager_method = "request_password_reset"


class PasswordResetDoneView(TemplateView):
    template_name = "useraccounts/password_reset_done.html"


@method_decorator(protected, name="dispatch")
class PasswordResetConfirmView(AccountViewMixin, FormView):
    """The emailed link. As Django's own view does, it moves the token out of the URL and
    redirects, so the token never leaks through the Referer header of the form page.

    Django keeps the token in the session; this view keeps it in a signed cookie scoped
    to this link's path (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS, gone when
    the link expires). The token is no more exposed than in the session (whoever holds
    the browser's cookies holds both), but opening the link writes nothing: no session
    row for a visitor who has none, so a database fault cannot strike after the page has
    answered, and the flow costs six fewer queries.
    """

    form_class = SetPasswordForm
    template_name = "useraccounts/password_reset_confirm.html"
    invalid_template_name = "useraccounts/password_reset_invalid.html"
    success_url = reverse_lazy("useraccounts:password_reset_complete")
    reset_url_token = "set-password"  # noqa: S105 (a URL segment, not a secret)
    token_cookie_name = "useraccounts_reset"  # noqa: S105 (a cookie name)
    error_field_map = {"password": "new_password1"}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.uidb64, token = kwargs["uidb64"], kwargs["token"]
        if token != self.reset_url_token:
            try:
                self.manager.check_password_reset_link(request, uidb64=self.uidb64, token=token)
            except AccountError as error:
                return self.bad_link(error, token)
            form_url = request.path.replace(token, self.reset_url_token)
            response = redirect(form_url)
            response.set_signed_cookie(
                self.token_cookie_name,
                token,
                salt=self.token_cookie_salt(),
                max_age=settings.PASSWORD_RESET_TIMEOUT,
                path=form_url,
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
            return response
        self.token = request.get_signed_cookie(
            self.token_cookie_name,
            default="",
            salt=self.token_cookie_salt(),
            max_age=settings.PASSWORD_RESET_TIMEOUT,
        )
        return super().dispatch(request, *args, **kwargs)

    def token_cookie_salt(self) -> str:
        """The cookie's signature is bound to this link's user, so a cookie copied from
        another reset link is refused before its token is even read."""
        return f"useraccounts.reset.{self.uidb64}"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.manager.check_password_reset_link(request, uidb64=self.uidb64, token=self.token)
        except AccountError as error:
            return self.bad_link(error, self.token)
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        valid = form.is_valid()
        try:
            user = self.manager.reset_password(
                request,
                uidb64=self.uidb64,
                token=self.token,
                new_password=self.typed(form, "new_password1"),
                input_errors=None if valid else self.input_errors(form),
            )
        except AccountError as error:
            if error.code in ("invalid_token", "expired_token"):
                return self.bad_link(error, self.token)
            return self.account_error(form, error)
        response = HttpResponseRedirect(self.get_success_url())
        self.forget_token(response)  # the new password made it useless anyway
        if app_settings.LOGIN_ON_PASSWORD_RESET:
            message = _(
                "Your password is changed, but we could not log you in. Please log in in a moment."
            )
            refused = self.log_in_after_saving(user, message)
            if refused is not None:  # the password is set; the session is not
                self.forget_token(refused)
                return refused
        return response

    def forget_token(self, response: HttpResponse) -> None:
        response.delete_cookie(self.token_cookie_name, path=self.request.path, samesite="Lax")

    def bad_link(self, error: AccountError, token: str) -> HttpResponse:
        response = super().bad_link(error, token)
        if not self.is_fault(error):  # a genuine link works again once the fault is over
            self.forget_token(response)
        return response


class PasswordResetCompleteView(TemplateView):
    template_name = "useraccounts/password_reset_complete.html"


@method_decorator(protected, name="dispatch")
class PasswordChangeView(LoginRequiredMixin, AccountViewMixin, FormView):
    """Change the password, or set one on an account that has none (made in the admin,
    say). The user stays logged in here; every other session of theirs ends."""

    template_name = "useraccounts/password_change.html"
    success_url = reverse_lazy("useraccounts:password_change_done")
    error_field_map = {"password": "new_password1"}

    def get_form_class(self) -> type[SetPasswordForm]:
        if self.request.user.has_usable_password():
            return PasswordChangeForm
        return SetPasswordForm

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        data, user = form.cleaned_data, self.request.user
        try:
            if "old_password" in data:
                self.manager.change_password(
                    self.request,
                    user,
                    old_password=data["old_password"],
                    new_password=data["new_password1"],
                )
            else:
                self.manager.set_password(self.request, user, new_password=data["new_password1"])
        except AccountError as error:
            return self.account_error(form, error)
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeDoneView(LoginRequiredMixin, TemplateView):
    template_name = "useraccounts/password_change_done.html"
