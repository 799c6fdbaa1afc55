"""What every API view shares: reading the JSON body, serving the request with the
client's session (:mod:`useraccounts.api.auth`), and answering errors in one shape.

The views are as thin as the HTML ones: they check the input with the same forms, call
the same manager method and map its ``AccountError``. They inherit
:class:`~useraccounts.views.AccountViewMixin` so that which errors are faults
(``is_fault``, ``shown_as_fault``), how a form's errors reach the manager
(``input_errors``) and logging in after saving (``log_in_after_saving``) are decided in
one place for both; only the answers are JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from ..error_views import infrastructure_errors
from ..exceptions import AccountError, RateLimited
from ..models import EmailAddress
from ..users import has_username
from ..views import AccountViewMixin
from . import errors
from .auth import BROWSER, CLIENT_KINDS, TOKEN_HEADER, ClientSession, csrf_refusal

logger = logging.getLogger("useraccounts")

#: Bodies larger than this are refused unread: no request of the API needs more.
MAX_BODY_BYTES = 64 * 1024
#: Methods whose JSON body is read.
BODY_METHODS = ("POST", "PUT", "PATCH")


class InvalidInput(Exception):
    """The request cannot be served as sent; ``response`` says why."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The JSON object of the body ({} for none); raise :class:`InvalidInput` for a
    body too large, not sent as ``application/json``, not UTF-8, not JSON, nested too
    deep or holding text no database can store (a lone surrogate)."""
    if request.method not in BODY_METHODS:
        return {}
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput(errors.error("invalid_json")) from None
    if length > MAX_BODY_BYTES:
        raise InvalidInput(errors.error("request_too_large"))
    try:
        body = request.body
    except RequestDataTooBig:
        raise InvalidInput(errors.error("request_too_large")) from None
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput(errors.error("request_too_large"))
    if not body.strip():
        return {}
    if request.content_type != "application/json":
        raise InvalidInput(errors.error("unsupported_media_type"))
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        _check_text(data)
    except (ValueError, RecursionError):
        raise InvalidInput(errors.error("invalid_json")) from None
    if not isinstance(data, dict):
        raise InvalidInput(errors.error("invalid_json"))
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_text(value: Any) -> None:
    """Raise ValueError for a string (or key) that is not encodable as UTF-8."""
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError is a ValueError
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class ApiView(AccountViewMixin, View):
    """The base of every API view. Subclasses declare ``input_fields`` (JSON key: the
    Python type it must have; null counts as absent) and ``login_required``."""

    http_method_names = ["get", "post", "patch", "options"]
    input_fields: dict[str, type] = {}
    login_required = False
    #: The JSON names of the manager's field names (``password`` is ``password1``...).
    error_field_map: dict[str, str] = {}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return self.http_method_not_allowed(request, *args, **kwargs)
        try:
            self.data = read_json(request)
            declared = self.client_declared()
        except InvalidInput as invalid:
            return invalid.response
        self.client = ClientSession.start(request, declared)
        try:
            response = self.serve(request, *args, **kwargs)
            new_token = self.client.finish(request, response)
        except infrastructure_errors():
            # The session store, or a query outside the manager: an outage, not a bug.
            logger.exception("Infrastructure fault in %s", type(self).__name__)
            return self.unavailable(AccountError(code="repository_error"))
        finally:
            # Whatever happened, SessionMiddleware sees the cookie session it made.
            self.client.restore(request)
        if new_token is not None:
            response[TOKEN_HEADER] = new_token
        return response

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Check CSRF (a browser's unsafe request), the login and the input types, then
        run the handler."""
        method = request.method.lower()
        if self.client.kind == BROWSER and (reason := csrf_refusal(request)):
            logger.warning("CSRF refused in %s: %s", type(self).__name__, reason)
            return errors.error("csrf_failed")
        # A CORS preflight never carries credentials: it is answered like any OPTIONS.
        if self.login_required and method != "options" and not request.user.is_authenticated:
            return errors.error("not_authenticated")
        if type_errors := self.type_errors():
            return errors.error_response(type_errors)
        return super().dispatch(request, *args, **kwargs)

    def client_declared(self) -> str | None:
        """The ``client`` the body declares: ``browser``, ``app`` or None."""
        client = self.data.get("client")
        if client is not None and client not in CLIENT_KINDS:
            message = _('"client" is "browser" or "app".')
            raise InvalidInput(errors.error("validation_error", message, "client"))
        return client

    def type_errors(self) -> list[dict[str, Any]]:
        """An error for each declared input of the wrong JSON type (a number where a
        string belongs...): refused before any form or operation sees it."""
        found = []
        for name, kind in self.input_fields.items():
            value = self.data.get(name)
            if value is None or (
                isinstance(value, kind) and (kind is bool) == isinstance(value, bool)
            ):
                continue
            message = _("Send true or false.") if kind is bool else _("Send a string.")
            found.append(errors.entry("validation_error", message, name))
        return found

    def form_data(self) -> dict[str, Any]:
        """The declared input present in the body, as a form's ``data``."""
        return {
            name: self.data[name] for name in self.input_fields if self.data.get(name) is not None
        }

    def text(self, name: str) -> str:
        """A declared string input, or "" when absent."""
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    # --- answers ---------------------------------------------------------------------

    def ok(self, data: dict[str, Any] | None, status: int = 200) -> HttpResponse:
        """A success; for a browser whose CSRF token this request rotated (a login),
        the body carries the new token. An app's new session token is added by
        :meth:`dispatch` (header), and by :meth:`session_answer` (body)."""
        if data is None:
            return errors.no_content()
        if self.client.kind == BROWSER and self.request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            data = {**data, "csrf_token": get_token(self.request)}
        return JsonResponse(data, status=status)

    def form_errors(self, form: BaseForm) -> HttpResponse:
        """A form's errors, each under its field's JSON name (null: the whole form)."""
        entries = [
            errors.entry("validation_error", message, None if field == "__all__" else field)
            for field, messages in form.errors.items()
            for message in messages
        ]
        return errors.error_response(entries)

    def account_error(
        self, form: BaseForm | None, error: AccountError, **kwargs: Any
    ) -> HttpResponse:
        """The answer to a manager error (the HTML views' ``account_error``)."""
        known = tuple(form.fields) if form is not None else ()
        known = (*known, *kwargs.pop("known", ()))
        return errors.account_error_response(
            error, fields=self.error_field_map, known=known, **kwargs
        )

    def rate_limited(self, error: RateLimited) -> HttpResponse:
        return errors.account_error_response(error)

    def unavailable(
        self, error: AccountError, *, message: Any = None, **_kwargs: Any
    ) -> HttpResponse:
        """The 503 of a fault, with what was saved if anything was (``message``)."""
        return errors.account_error_response(error, message=message)

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = errors.error("method_not_allowed")
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return response

    # --- what the API tells about a session ------------------------------------------

    def account_data(self, user: Any) -> dict[str, Any]:
        """Who is logged in, and their addresses with whether each is verified."""
        email_field = user.get_email_field_name()
        addresses = getattr(user, "useraccounts_addresses", None)
        if addresses is None:
            addresses = EmailAddress.objects.filter(user_id=user.pk)
        # Sorted here, not by the database, whose collation would order them otherwise.
        addresses = sorted(addresses, key=lambda address: (not address.primary, address.email))
        return {
            "user": {
                "id": str(user.pk),
                "username": user.get_username() if has_username() else None,
                "email": getattr(user, email_field, "") or "",
            },
            "email_addresses": [address_data(address) for address in addresses],
        }

    def session_answer(self, user: Any, status: int = 200, **extra: Any) -> HttpResponse:
        """The logged-in session: the account, the client kind and, for an app whose
        session is new or has a new key, its token (saved now, so it can be told)."""
        data = {**self.account_data(user), "client": self.client.kind, **extra}
        if self.client.kind != BROWSER:
            session = self.request.session
            if session.modified or session.session_key is None:
                session.save()
                session.modified = False  # saved: dispatch need not save it again
            if session.session_key != self.client.sent_token:
                data["session_token"] = session.session_key
        return self.ok(data, status)


def address_data(address: EmailAddress) -> dict[str, Any]:
    return {"email": address.email, "verified": address.verified, "primary": address.primary}
