"""The API's endpoints for a logged-in user's account: profile, deletion, addresses.
Each is the HTML page's operation (:mod:`useraccounts.account_views`) with JSON in and
out; the manager decides everything."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from ..confirmation import proof_tag, remember_address
from ..exceptions import AccountError
from ..forms import EmailForm, PasswordConfirmForm
from ..models import EmailAddress
from . import errors
from .base import ApiView, address_data

#: JSON values a profile field may be sent as (never an array or an object).
SCALARS = (str, int, float, bool)


class ProfileView(ApiView):
    """GET the profile fields (``USERACCOUNTS_PROFILE_FIELDS``); PATCH some of them.
    The manager validates with the model's own rules and refuses any other field."""

    http_method_names = ["get", "patch", "options"]
    login_required = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.profile(request.user)

    def patch(self, request: HttpRequest) -> HttpResponse:
        wrong = [
            errors.entry("validation_error", _("Send a string, a number or true/false."), name)
            for name, value in self.data.items()
            if value is not None and not isinstance(value, SCALARS)
        ]
        if wrong:
            return errors.error_response(wrong)
        try:
            data = {name: value for name, value in self.data.items() if name != "client"}
            user = self.manager.update_user(request, request.user, data)
        except AccountError as error:
            known = tuple(self.manager.get_profile_fields())
            return self.account_error(None, error, known=known)
        return self.profile(user)

    def profile(self, user: Any) -> HttpResponse:
        fields = self.manager.get_profile_fields()
        return self.ok({"profile": model_to_dict(user, fields)})


class AccountDeleteView(ApiView):
    """POST ``password``: delete the account (or deactivate it, per
    ``USERACCOUNTS_DELETE_MODE``); the session, cookie or token, ends with it."""

    http_method_names = ["post", "options"]
    login_required = True
    input_fields = {"password": str}

    @sensitive_variables()
    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordConfirmForm(data=self.form_data())
        if not form.is_valid():
            return self.form_errors(form)
        try:
            self.manager.delete_user(request, request.user, password=form.cleaned_data["password"])
        except AccountError as error:
            return self.account_error(form, error)
        return self.ok(None)


class EmailListMixin:
    def addresses(self, status: int = 200) -> HttpResponse:
        rows = EmailAddress.objects.filter(user_id=self.request.user.pk).order_by(
            "-primary", "email"
        )
        return self.ok({"email_addresses": [address_data(row) for row in rows]}, status)


class EmailView(EmailListMixin, ApiView):
    """GET the user's addresses; POST ``email`` adds one and emails it a confirmation
    link. An address verified on another account is added all the same (its owner
    gets a notice), so the answer tells nothing about that account."""

    http_method_names = ["get", "post", "options"]
    login_required = True
    input_fields = {"email": str}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.addresses()

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EmailForm(data=self.form_data())
        if not form.is_valid():
            return self.form_errors(form)
        try:
            added = self.manager.add_email(request, request.user, form.cleaned_data["email"])
        except AccountError as error:
            return self.account_error(form, error)
        response = self.addresses(201)
        # This client may confirm it without the password, as the HTML page's browser.
        remember_address(request, response, proof_tag(added))
        return response


class EmailActionView(EmailListMixin, ApiView):
    """POST ``email`` to remove it, make it primary or send it a new link; the answer
    is the list of addresses after it."""

    http_method_names = ["post", "options"]
    login_required = True
    input_fields = {"email": str}
    #: The manager method, which takes the request, the user and the address.
    manager_method = "remove_email"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EmailForm(data=self.form_data())
        if not form.is_valid():
            return self.form_errors(form)
        operation = getattr(self.manager, self.manager_method)
        try:
            operation(request, request.user, form.cleaned_data["email"])
        except AccountError as error:
            return self.account_error(form, error)
        return self.addresses()


class EmailRemoveView(EmailActionView):
    """Never the primary address, nor the last verified one."""

    manager_method = "remove_email"


class EmailPrimaryView(EmailActionView):
    """A verified address only; the user model's email follows."""

    manager_method = "set_primary_email"


class EmailSendView(EmailActionView):
    """A new confirmation link for one of the user's unverified addresses."""

    manager_method = "resend_email_confirmation_for"
