"""The confirmation pages: "check your inbox", the emailed link, and asking for a new
link. The rules (who may confirm, what a link proves) are the manager's, in
:mod:`useraccounts.confirmation`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView

from .confirmation import remember_sent_to, sent_to
from .exceptions import AccountError
from .forms import PASSWORD_MAX_LENGTH, EmailForm
from .views import AccountViewMixin, SameAnswerMixin, protected


class ConfirmationSentView(TemplateView):
    """ "Check your inbox": names the address the link went to (carried by a cookie, see
    :data:`~useraccounts.confirmation.SENT_COOKIE`), so a typo shows at once, and offers
    another link to it."""

    template_name = "useraccounts/confirmation_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        address = sent_to(self.request)
        form = EmailForm(initial={"email": address} if address else None)
        return {**super().get_context_data(**kwargs), "sent_to": address, "form": form}


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
class ResendConfirmationView(SameAnswerMixin, FormView):
    """Send a new confirmation link; the page is the same whether the address is known."""

    form_class = EmailForm
    template_name = "useraccounts/resend_confirmation.html"
    success_url = reverse_lazy("useraccounts:confirmation_sent")
    manager_method = "resend_email_confirmation"

    def sent(self, email: str) -> HttpResponse:
        return remember_sent_to(self.request, super().sent(email), email)
