"""The API's one error shape, and the status each error code is answered with.

Every refusal is ``{"errors": [{"code": ..., "field": ..., "message": ...}]}``: ``code``
is the ``error_type`` or ``reason`` of the operation's failure signal (or, where the
manager names one, the finer ``reason`` of an :class:`EmailAddressError`), ``field`` the
JSON key the error is about (null: the request as a whole) and ``message`` translated
text fit to show the user. The status follows from the code alone (:data:`STATUS`), so a
client can branch on either; a rate limit and a fault carry ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

from ..exceptions import AccountError, UndeliverableAddress

#: The status of each code; a code not listed (a project manager's own) is 400.
STATUS: dict[str, int] = {
    # The input: fix it and send again.
    "validation_error": 400,
    "invalid_json": 400,
    "request_too_large": 400,
    "invalid_token": 400,
    "expired_token": 400,
    # Nobody is logged in (no session, or one that ended).
    "not_authenticated": 401,
    # Refused: the credentials, or the account's state.
    "incorrect_password": 403,
    "user_inactive": 403,
    "email_not_verified": 403,
    "csrf_failed": 403,
    "signup_closed": 403,
    # No such thing (an address not on the account, an account deleted meanwhile).
    "not_found": 404,
    "not_yours": 404,
    "user_not_found": 404,
    "method_not_allowed": 405,
    # The state of the account conflicts with the request.
    "address_taken": 409,
    "already_verified": 409,
    "already_yours": 409,
    "already_authenticated": 409,
    "is_primary": 409,
    "last_verified": 409,
    "limit_reached": 409,
    "not_verified": 409,
    "undeliverable": 409,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    # A bug: the manager logged it with its traceback.
    "unexpected_exception": 500,
    # A fault of the database, the cache or the email backend: try again in a moment.
    "repository_error": 503,
    "email_send_failed": 503,
}

#: Seconds a fault asks the client to wait, unless the error says (``retry_after``).
FAULT_RETRY_AFTER = 30

MESSAGES: dict[str, Any] = {
    "invalid_json": _("The request body must be a JSON object, in UTF-8."),
    "request_too_large": _("The request body is too large."),
    "not_authenticated": _("Log in first."),
    "csrf_failed": _(
        "The request has no valid CSRF token. Fetch one from the csrf endpoint and send "
        "it in the X-CSRFToken header."
    ),
    "signup_closed": _("Signup is closed."),
    "method_not_allowed": _("This method is not allowed here."),
    "already_authenticated": _("You are already logged in. Log out first."),
    "unsupported_media_type": _("Send the request body as application/json."),
}


def entry(code: str, message: Any = None, field: str | None = None) -> dict[str, Any]:
    """One error: its code, the field it is about (or None) and its text."""
    text = message if message is not None else MESSAGES.get(code, code)
    return {"code": code, "field": field, "message": str(text)}


def error_response(
    errors: list[dict[str, Any]], status: int | None = None, *, retry_after: int | None = None
) -> JsonResponse:
    """The error shape; the status is the first error's unless given."""
    status = status or STATUS.get(errors[0]["code"], 400)
    response = JsonResponse({"errors": errors}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(int(retry_after))
    return response


def error(code: str, message: Any = None, field: str | None = None, **kwargs: Any) -> JsonResponse:
    """A response of one error."""
    return error_response([entry(code, message, field)], **kwargs)


def api_code(exc: AccountError) -> str:
    """The code an API client sees: the finer ``reason`` where the manager gives one
    (``already_verified``, ``is_primary``...), ``undeliverable`` for an address that
    bounced before, else the failure signal's ``error_type`` or ``reason``."""
    if isinstance(exc, UndeliverableAddress):
        return "undeliverable"
    return getattr(exc, "reason", None) or exc.code


def retry_after(exc: AccountError) -> int | None:
    """The ``Retry-After`` of a rate limit or a fault; None for anything else."""
    status = STATUS.get(api_code(exc))
    if status == 429 or status == 503:
        return int(getattr(exc, "retry_after", None) or FAULT_RETRY_AFTER)
    return None


def account_error_response(
    exc: AccountError,
    *,
    fields: dict[str | None, str | None] | None = None,
    known: tuple[str, ...] = (),
    code: str | None = None,
    message: Any = None,
    field: str | None = None,
) -> JsonResponse:
    """The answer to a manager error: one entry per message of ``field_errors`` (each
    under its JSON name: ``fields`` maps the manager's names, and a name not in
    ``known`` is the request's as a whole), else one with the error's own message.
    ``code`` replaces the error's where the answer must not tell two codes apart;
    ``field`` is where an error without field errors belongs, if anywhere."""
    code = code or api_code(exc)
    fields = fields or {}
    entries = []
    for name, messages in (exc.field_errors or {}).items():
        field = fields.get(name, name)
        field = field if field in known else None
        entries.extend(entry(code, msg, field) for msg in messages)
    if not entries:
        entries.append(entry(code, message if message is not None else exc.message, field))
    status = STATUS.get(code, 400)
    return error_response(entries, status, retry_after=retry_after(exc))


def no_content() -> HttpResponse:
    return HttpResponse(status=204)
