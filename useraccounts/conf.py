"""The app's settings, each read from ``django.conf.settings`` at the moment it is used.

Nothing is captured at import time, so ``override_settings`` in tests and settings changed
at runtime are always seen. Every setting is optional and prefixed ``USERACCOUNTS_``;
an invalid value raises ``ImproperlyConfigured`` naming the setting and the fix, and the
system checks (:mod:`useraccounts.checks`) report the same problems at start-up.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "USERACCOUNTS_"

EMAIL_VERIFICATION_MODES = ("mandatory", "optional", "none")
LOGIN_METHODS = ("username", "email")

#: Rates are "<count>/<period>/<scope>" joined by commas; a period is an optional number
#: and a unit (s, m, h, d); the scope is "ip" (the client's address; an IPv6 client by its
#: /64 network), "key" (the address or login typed), "user" (the account) or "device" (a
#: device cookie's id). Counts slide: the previous window's count weighs in as much as it
#: overlaps the last period, so a burst at the end of a window still counts after it.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "login_failed": "20/5m/ip,5/5m/key",
    "login_device": "10/5m/device",
    "signup": "20/h/ip",
    "confirm_email": "3/10m/key,10/h/user,30/h/ip",
    "reset_password": "20/h/ip,3/15m/key",
    "change_password": "5/m/user",
    "confirm_password": "20/5m/ip,5/5m/user",
    "delete_account": "5/15m/user",
    "notify": "2/h/key",
}

DEFAULTS: dict[str, Any] = {
    "EMAIL_VERIFICATION": "mandatory",
    "LOGIN_METHODS": LOGIN_METHODS,
    "EMAIL_CONFIRMATION_EXPIRE_SECONDS": 3 * 24 * 3600,
    "SIGNUP_OPEN": True,
    "DEFAULT_GROUPS": (),
    "RATE_LIMITS": DEFAULT_RATE_LIMITS,
    "MANAGER": "useraccounts.manager.AccountManager",
    "TRUSTED_PROXY_COUNT": 0,
    "SITE_URL": None,
    "PASSWORD_RESET_TIMEOUT_SECONDS": None,
    "LOGIN_ON_PASSWORD_RESET": False,
    "PROFILE_FIELDS": None,
    "DELETE_MODE": "delete",
    "MAX_EMAIL_ADDRESSES": 5,
    "PREVENT_ENUMERATION": True,
    "RATE_LIMITS_FAIL_OPEN": False,
    "NOTIFY_UNKNOWN_ADDRESSES": True,
    "LIMIT_ADMIN_LOGIN": True,
    "FRONTEND_URLS": {},
}

DELETE_MODES = ("delete", "deactivate")

#: The emailed links a site's own front end may serve (``USERACCOUNTS_FRONTEND_URLS``),
#: each with a template of the kind it takes: the token in the #fragment, which browsers
#: never send to a server, so it reaches no server's log.
FRONTEND_URL_EXAMPLES: dict[str, str] = {
    "confirm_email": "https://app.example.com/confirm#{token}",
    "password_reset_confirm": "https://app.example.com/reset#{uidb64}/{token}",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def frontend_url_placeholders(name: str) -> list[str]:
    """The placeholders the template of link ``name`` must hold, e.g. ["token"]."""
    return _PLACEHOLDER.findall(FRONTEND_URL_EXAMPLES[name])


def frontend_url_problems(value: Any) -> list[tuple[str, str]]:
    """What is wrong with a ``USERACCOUNTS_FRONTEND_URLS`` value: (problem, fix) pairs,
    each problem to read right after the setting's name (" is ...", "['key'] is ...");
    [] for a good value."""
    setting = PREFIX + "FRONTEND_URLS"
    if value is None:
        return []
    if not isinstance(value, dict):
        return [
            (
                f" is {value!r}, not a dict",
                f"Set {setting} to a dict of link to URL template, e.g. "
                f"{FRONTEND_URL_EXAMPLES!r}, or remove it to link to the app's own pages.",
            )
        ]
    problems = []
    for key, template in value.items():
        if key not in FRONTEND_URL_EXAMPLES:
            keys = " and ".join(map(repr, FRONTEND_URL_EXAMPLES))
            problems.append((f" has the unknown key {key!r}", f"Use only {keys} in {setting}."))
            continue
        where, example = f"{setting}[{key!r}]", FRONTEND_URL_EXAMPLES[key]
        wanted = frontend_url_placeholders(key)
        braces = " and ".join("{" + name + "}" for name in wanted)
        fix = f"Set {where} to a URL template holding {braces}, e.g. {example!r}."
        if not isinstance(template, str):
            problems.append((f"[{key!r}] is {template!r}, not a string", fix))
            continue
        found = _PLACEHOLDER.findall(template)
        wrong = [f"lacks {{{name}}}" for name in wanted if name not in found]
        wrong += [f"has {{{name}}}" for name in dict.fromkeys(found) if name not in wanted]
        if wrong:
            problems.append(
                (
                    f"[{key!r}] is {template!r}, which {' and '.join(wrong)}",
                    f"Put {braces} and no other {{...}} in {where}; best in a #fragment, e.g. "
                    f"{example!r}, which browsers never send to a server.",
                )
            )
        parts = urlsplit(template)
        absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
        if not absolute and (not template.startswith("/") or template.startswith("//")):
            problems.append(
                (
                    f"[{key!r}] is {template!r}, neither an http(s) URL nor a path",
                    f"Set {where} to an absolute URL (e.g. {example!r}) or a path from the "
                    f"site's root (e.g. '/app/#/confirm/{{token}}'), which is joined to "
                    f"{PREFIX}SITE_URL or the request's host as the app's own links are.",
                )
            )
    return problems


def fill_frontend_url(template: str, values: dict[str, str]) -> str:
    """A ``USERACCOUNTS_FRONTEND_URLS`` template with its placeholders replaced by
    ``values``, each quoted for a URL (the app's tokens need no quoting)."""
    return _PLACEHOLDER.sub(lambda match: quote(values[match[1]], safe=""), template)


#: Where the pages send people when the site has not set Django's own setting (a URL, a
#: path or a URL pattern's name, read with ``resolve_url``): after login the account page,
#: since Django's default ``LOGIN_REDIRECT_URL``, ``/accounts/profile/``, is a page no app
#: serves; after logout and account deletion the home page. Signup goes to "check your
#: inbox" (``useraccounts:confirmation_sent``), or where it logs the user in, after login.
DEFAULT_LOGIN_REDIRECT_URL = "useraccounts:account"
DEFAULT_LOGOUT_REDIRECT_URL = "/"


class AppSettings:
    """Read-through access to the ``USERACCOUNTS_*`` settings, validated on every read."""

    def _get(self, name: str) -> Any:
        return getattr(django_settings, PREFIX + name, DEFAULTS[name])

    @staticmethod
    def _improper(name: str, problem: str, fix: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{PREFIX}{name} {problem}. {fix}")

    @property
    def EMAIL_VERIFICATION(self) -> str:
        value = self._get("EMAIL_VERIFICATION")
        if value not in EMAIL_VERIFICATION_MODES:
            raise self._improper(
                "EMAIL_VERIFICATION",
                f"is {value!r}",
                'Set it to "mandatory" (the default), "optional" or "none".',
            )
        return value

    @property
    def LOGIN_METHODS(self) -> frozenset[str]:
        value = self._get("LOGIN_METHODS")
        methods = frozenset([value] if isinstance(value, str) else value)
        if not methods or not methods <= set(LOGIN_METHODS):
            raise self._improper(
                "LOGIN_METHODS",
                f"is {value!r}",
                'Set it to a non-empty subset of {"username", "email"}.',
            )
        return methods

    @property
    def EMAIL_CONFIRMATION_EXPIRE_SECONDS(self) -> int:
        return self._positive_int("EMAIL_CONFIRMATION_EXPIRE_SECONDS")

    @property
    def SIGNUP_OPEN(self) -> bool:
        return bool(self._get("SIGNUP_OPEN"))

    @property
    def DEFAULT_GROUPS(self) -> tuple[str, ...]:
        value = self._get("DEFAULT_GROUPS")
        if isinstance(value, str) or not all(isinstance(name, str) for name in value):
            raise self._improper(
                "DEFAULT_GROUPS",
                f"is {value!r}",
                'Set it to a list of group names, e.g. ["members"].',
            )
        return tuple(value)

    @property
    def RATE_LIMITS(self) -> dict[str, str]:
        """The rate per action; an action missing from the setting keeps its default."""
        value = self._get("RATE_LIMITS")
        if value is False:
            return {}
        if not isinstance(value, dict):
            raise self._improper(
                "RATE_LIMITS",
                f"is {value!r}",
                "Set it to a dict of action to rate (e.g. {'signup': '20/h/ip'}) or False.",
            )
        return {**DEFAULT_RATE_LIMITS, **value}

    @property
    def RATE_LIMITS_FAIL_OPEN(self) -> bool:
        """What a limited operation does when the cache that counts limits fails.

        False (the default) fails closed: login, signup, resets and the other limited
        operations answer 503 with Retry-After until the cache is back, so nobody can
        guess passwords while nothing is counted. True fails open: attempts go through
        uncounted, each logged as a warning; for a site that prefers availability (and
        has another defence, such as a firewall's own limits).
        """
        value = self._get("RATE_LIMITS_FAIL_OPEN")
        if not isinstance(value, bool):
            raise self._improper(
                "RATE_LIMITS_FAIL_OPEN",
                f"is {value!r}",
                "Set it to False (the default: refuse attempts while the cache is down) "
                "or True (let them through uncounted).",
            )
        return value

    @property
    def MANAGER(self) -> str:
        return self._get("MANAGER")

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        value = self._get("TRUSTED_PROXY_COUNT")
        if not isinstance(value, int) or value < 0:
            raise self._improper(
                "TRUSTED_PROXY_COUNT",
                f"is {value!r}",
                "Set it to the number of proxies in front of Django (0 when none).",
            )
        return value

    @property
    def SITE_URL(self) -> str | None:
        value = self._get("SITE_URL")
        return value.rstrip("/") if value else None

    @property
    def PASSWORD_RESET_TIMEOUT_SECONDS(self) -> int:
        """How long a reset link works; Django's PASSWORD_RESET_TIMEOUT when unset."""
        if self._get("PASSWORD_RESET_TIMEOUT_SECONDS") is None:
            return django_settings.PASSWORD_RESET_TIMEOUT
        return self._positive_int("PASSWORD_RESET_TIMEOUT_SECONDS")

    @property
    def LOGIN_ON_PASSWORD_RESET(self) -> bool:
        return bool(self._get("LOGIN_ON_PASSWORD_RESET"))

    @property
    def PROFILE_FIELDS(self) -> tuple[str, ...] | None:
        """The user-model fields the account page edits; None: first and last name."""
        value = self._get("PROFILE_FIELDS")
        if value is None:
            return None
        if isinstance(value, str) or not all(isinstance(name, str) for name in value):
            raise self._improper(
                "PROFILE_FIELDS",
                f"is {value!r}",
                'Set it to a list of field names, e.g. ["first_name"].',
            )
        return tuple(value)

    @property
    def DELETE_MODE(self) -> str:
        value = self._get("DELETE_MODE")
        if value not in DELETE_MODES:
            raise self._improper(
                "DELETE_MODE", f"is {value!r}", 'Set it to "delete" (the default) or "deactivate".'
            )
        return value

    @property
    def FRONTEND_URLS(self) -> dict[str, str]:
        """The emailed links a front end serves instead of the app's pages: link name
        (``confirm_email``, ``password_reset_confirm``) to URL template; {} for none."""
        value = self._get("FRONTEND_URLS")
        if problems := frontend_url_problems(value):
            problem, fix = problems[0]
            raise ImproperlyConfigured(f"{PREFIX}FRONTEND_URLS{problem}. {fix}")
        return dict(value or {})

    @property
    def PREVENT_ENUMERATION(self) -> bool:
        return bool(self._get("PREVENT_ENUMERATION"))

    @property
    def LIMIT_ADMIN_LOGIN(self) -> bool:
        """Whether the admin's login page counts against the app's login limits (off:
        for a site whose admin login something else limits)."""
        return bool(self._get("LIMIT_ADMIN_LOGIN"))

    @property
    def NOTIFY_UNKNOWN_ADDRESSES(self) -> bool:
        """Whether a reset or resend that no link answers sends a short note instead, so
        that known and unknown addresses cost the same work (off: silence)."""
        return bool(self._get("NOTIFY_UNKNOWN_ADDRESSES"))

    @property
    def LOGIN_REDIRECT_URL(self) -> str:
        """Django's ``LOGIN_REDIRECT_URL`` where the site sets it (to any value, Django's
        default included), else :data:`DEFAULT_LOGIN_REDIRECT_URL`."""
        if django_settings.is_overridden("LOGIN_REDIRECT_URL"):
            return django_settings.LOGIN_REDIRECT_URL
        return DEFAULT_LOGIN_REDIRECT_URL

    @property
    def LOGOUT_REDIRECT_URL(self) -> str:
        """Django's ``LOGOUT_REDIRECT_URL`` where the site sets it to a URL, else
        :data:`DEFAULT_LOGOUT_REDIRECT_URL` (Django's default, None, means "render a
        logged-out page", which the app's logout does not have)."""
        return django_settings.LOGOUT_REDIRECT_URL or DEFAULT_LOGOUT_REDIRECT_URL

    @property
    def MAX_EMAIL_ADDRESSES(self) -> int:
        return self._positive_int("MAX_EMAIL_ADDRESSES")

    def _positive_int(self, name: str) -> int:
        value = self._get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self._improper(name, f"is {value!r}", "Set it to a positive whole number.")
        return value


app_settings = AppSettings()
