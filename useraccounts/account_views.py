"""The pages of a logged-in user's account: profile, deletion, email addresses."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.generic import FormView

from .conf import app_settings
from .confirmation import proof_tag, remember_address
from .exceptions import AccountError
from .forms import EmailForm, PasswordConfirmForm
from .models import EmailAddress
from .views import AccountViewMixin, protected


@method_decorator(protected, name="dispatch")
class AccountView(LoginRequiredMixin, AccountViewMixin, FormView):
    """Edit the profile fields (``USERACCOUNTS_PROFILE_FIELDS``)."""

    template_name = "useraccounts/account.html"
    success_url = reverse_lazy("useraccounts:account")

    def get_form_class(self) -> type[BaseForm]:
        return self.manager.get_profile_form_class()

    def get_form_kwargs(self) -> dict[str, Any]:
        # A copy: validating the form must not change request.user before it is saved.
        return {**super().get_form_kwargs(), "instance": copy.copy(self.request.user)}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        data = {
            name: field.widget.value_from_datadict(
                request.POST, request.FILES, form.add_prefix(name)
            )
            for name, field in form.fields.items()
        }
        try:
            self.manager.update_user(request, request.user, data)
        except AccountError as error:
            return self.account_error(form, error)
        messages.success(request, _("Your profile is saved."), fail_silently=True)
        return HttpResponseRedirect(self.get_success_url())


@method_decorator(protected, name="dispatch")
class AccountDeleteView(LoginRequiredMixin, AccountViewMixin, FormView):
    """Delete the account after the password is typed again."""

    form_class = PasswordConfirmForm
    template_name = "useraccounts/account_delete.html"

    def get_success_url(self) -> str:
        return resolve_url(app_settings.LOGOUT_REDIRECT_URL)

    def form_valid(self, form: PasswordConfirmForm) -> HttpResponse:
        try:
            self.manager.delete_user(
                self.request, self.request.user, password=form.cleaned_data["password"]
            )
        except AccountError as error:
            return self.account_error(form, error)
        messages.success(self.request, _("Your account is deleted."), fail_silently=True)
        return HttpResponseRedirect(self.get_success_url())


@method_decorator(protected, name="dispatch")
class EmailView(LoginRequiredMixin, AccountViewMixin, FormView):
    """List the user's addresses; POST ``email`` with ``action_add``, ``action_remove``,
    ``action_send`` or ``action_primary`` (allauth's names)."""

    form_class = EmailForm
    template_name = "useraccounts/email.html"
    success_url = reverse_lazy("useraccounts:email")
    actions = ("action_add", "action_remove", "action_send", "action_primary")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        addresses = EmailAddress.objects.filter(user_id=self.request.user.pk).order_by(
            "-primary", "email"
        )
        return {**super().get_context_data(**kwargs), "addresses": addresses}

    def form_valid(self, form: EmailForm) -> HttpResponse:
        action = next((a for a in self.actions if a in self.request.POST), None)
        if action is None:
            form.add_error(None, _("Choose what to do with the address."))
            return self.form_invalid(form)
        email = form.cleaned_data["email"]
        self.added: EmailAddress | None = None
        try:
            message = getattr(self, action)(email)
        except AccountError as error:
            return self.account_error(form, error)
        messages.success(self.request, message, fail_silently=True)
        response = HttpResponseRedirect(self.get_success_url())
        if self.added is not None:  # this browser may confirm it without the password
            remember_address(self.request, response, proof_tag(self.added))
        return response

    def action_add(self, email: str) -> str:
        # An address another account has verified answers the same (its owner gets a
        # notice instead of the link), so the answer tells nothing about that account.
        self.added = self.manager.add_email(self.request, self.request.user, email)
        return _("We sent a confirmation link to %(email)s.") % {"email": email}

    def action_remove(self, email: str) -> str:
        self.manager.remove_email(self.request, self.request.user, email)
        return _("%(email)s is removed from your account.") % {"email": email}

    def action_send(self, email: str) -> str:
        self.manager.resend_email_confirmation_for(self.request, self.request.user, email)
        return _("We sent a new confirmation link to %(email)s.") % {"email": email}

    def action_primary(self, email: str) -> str:
        self.manager.set_primary_email(self.request, self.request.user, email)
        return _("%(email)s is now your primary address.") % {"email": email}
