"""A JSON API over the same account manager, for single-page and mobile apps.

Opt in with ``path("api/accounts/", include("useraccounts.api.urls"))`` (namespace
``useraccounts_api``); nothing beyond Django is needed. Two kinds of client
(:mod:`useraccounts.api.auth`): a ``browser`` uses the session cookie and Django's CSRF
token; an ``app`` logs in with ``"client": "app"`` and sends the session token it gets
back in the ``X-Session-Token`` header. Errors have one shape
(:mod:`useraccounts.api.errors`). The views are thin: the manager decides, signals,
limits and answers alike for known and unknown addresses, as for the HTML pages.
"""
