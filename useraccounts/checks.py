"""System checks, with stable ids, for settings and environments the app cannot work with.

Errors (``useraccounts.E…``) stop ``manage.py`` commands; warnings (``useraccounts.W…``)
point at deployments that work but are weaker than they should be.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from .conf import PREFIX, app_settings, frontend_url_problems
from .error_views import API_APP_NAME

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def _setting_error(id_: str, read) -> list[checks.CheckMessage]:
    try:
        read()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id=id_)]
    return []


def _profile_field_errors(User: type[AbstractBaseUser]) -> list[checks.CheckMessage]:
    try:
        names = app_settings.PROFILE_FIELDS or ()
    except ImproperlyConfigured:
        return []  # not a list of names: reading it raises with the fix
    from .profile import forbidden_profile_fields

    forbidden = forbidden_profile_fields(User)
    return [
        checks.Error(
            f"USERACCOUNTS_PROFILE_FIELDS lists {name!r}, which grants privileges, holds "
            "a credential or identifies the account: no user may edit it on their own "
            "account page, and the page leaves it out.",
            hint=f"Remove {name!r} from USERACCOUNTS_PROFILE_FIELDS. Staff change it in "
            "the admin; users change their address and password on the email and "
            "password pages, which confirm the change.",
            id="useraccounts.E010",
        )
        for name in dict.fromkeys(names)
        if name in forbidden
    ]


@checks.register(checks.Tags.security, checks.Tags.compatibility)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Each ``USERACCOUNTS_*`` setting that has a wrong or dangerous value."""
    from .manager import get_account_manager
    from .ratelimit import parse_rates

    errors = []
    errors += _setting_error("useraccounts.E001", lambda: app_settings.EMAIL_VERIFICATION)
    errors += _setting_error("useraccounts.E002", lambda: app_settings.LOGIN_METHODS)
    errors += _setting_error(
        "useraccounts.E004",
        lambda: [parse_rates(a, s) for a, s in app_settings.RATE_LIMITS.items()],
    )
    errors += _setting_error("useraccounts.E005", get_account_manager)
    errors += _setting_error(
        "useraccounts.E006", lambda: app_settings.EMAIL_CONFIRMATION_EXPIRE_SECONDS
    )
    errors += _setting_error("useraccounts.E007", lambda: app_settings.TRUSTED_PROXY_COUNT)
    groups = []
    errors += _setting_error(
        "useraccounts.E008", lambda: groups.extend(app_settings.DEFAULT_GROUPS)
    )
    User = get_user_model()
    if groups and not hasattr(User, "groups"):
        errors.append(
            checks.Error(
                "USERACCOUNTS_DEFAULT_GROUPS is set, but the user model has no groups.",
                hint="Add PermissionsMixin to your user model, or remove the setting.",
                id="useraccounts.E009",
            )
        )
    errors += _profile_field_errors(User)
    errors += _frontend_url_errors()
    return errors


def _frontend_url_errors() -> list[checks.CheckMessage]:
    """One error for each problem of ``USERACCOUNTS_FRONTEND_URLS``: the links emails
    carry must work, or every confirmation and reset would fail at send time."""
    name = PREFIX + "FRONTEND_URLS"
    value = getattr(settings, name, None)
    return [
        checks.Error(f"{name}{problem}.", hint=fix, id="useraccounts.E011")
        for problem, fix in frontend_url_problems(value)
    ]


@checks.register(checks.Tags.models)
def check_user_model(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The user model must have an email field for the app to work."""
    User = get_user_model()
    try:
        User._meta.get_field(User.get_email_field_name())
    except FieldDoesNotExist:
        return [
            checks.Error(
                f"The user model {User._meta.label} has no email field "
                f"{User.get_email_field_name()!r}.",
                hint="Add an EmailField to the user model and name it in EMAIL_FIELD.",
                id="useraccounts.E003",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_password_hashers(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Argon2 should hash new passwords: it is the one memory-hard hasher Django ships."""
    if settings.PASSWORD_HASHERS and settings.PASSWORD_HASHERS[0] != ARGON2:
        return [
            checks.Warning(
                "Argon2 is not the first entry of PASSWORD_HASHERS, so new passwords are "
                "hashed with a weaker algorithm.",
                hint=f'Put "{ARGON2}" first in PASSWORD_HASHERS (argon2-cffi is installed '
                "with useraccounts).",
                id="useraccounts.W001",
            )
        ]
    return []


PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps counts per process",
    "django.core.cache.backends.dummy.DummyCache": "keeps no counts at all",
}
DEVELOPMENT_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def check_deployment(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """For ``check --deploy``: rate limits need a shared cache, and mail must really go
    out (a development cache and console email are right while developing)."""
    warnings = []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES and _rate_limits_on():
        warnings.append(
            checks.Warning(
                f"Rate limits are counted in the default cache, {backend}, which "
                f"{PER_PROCESS_CACHES[backend]}: with several processes or servers an "
                "attacker gets each one's allowance.",
                hint="Use a shared cache for CACHES['default'] (Redis or Memcached), or "
                "turn limits off with USERACCOUNTS_RATE_LIMITS = False if something "
                "else enforces them.",
                id="useraccounts.W002",
            )
        )
    if settings.EMAIL_BACKEND in DEVELOPMENT_EMAIL_BACKENDS:
        warnings.append(
            checks.Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, a development backend: "
                "confirmation and reset emails will not reach anyone.",
                hint="Set EMAIL_BACKEND to SMTP or an anymail backend for your provider.",
                id="useraccounts.W003",
            )
        )
    return warnings


def _rate_limits_on() -> bool:
    try:
        return bool(app_settings.RATE_LIMITS)
    except ImproperlyConfigured:
        return False  # reported as useraccounts.E004


@checks.register(checks.Tags.security, checks.Tags.compatibility)
def check_authentication_backends(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """How ``AUTHENTICATION_BACKENDS`` and ``AccountBackend`` go together.

    W004 (a Warning): a backend that runs ``ModelBackend``'s own ``authenticate()``
    beside ``AccountBackend`` looks the login up and hashes it again whenever ours
    refuses, so every failed login costs two hashes: the app's one-hash promise breaks,
    and each guess makes the server do twice the deliberately expensive work (Argon2),
    which helps whoever floods the login page. A weaker deployment, so a warning.

    I001 (an Info, not a Warning): with ``ModelBackend`` and no ``AccountBackend`` (Django's
    default) nothing is broken or weaker: the app's own login page stands
    ``AccountBackend`` in for ``ModelBackend``, with one hash and Django's signals. Only
    Django's own login paths (the admin's login page, ``AuthenticationForm``, other apps
    calling ``authenticate()``) still find users by ``USERNAME_FIELD`` alone, in exact
    case. The contract promises that nothing but the app is required at install, and a
    Warning would fail ``check --fail-level WARNING`` in a project's CI for a setting
    Django ships; a hint is what it deserves.
    """
    from .django_auth import (
        ACCOUNT_BACKEND,
        MODEL_BACKEND,
        account_backend_path,
        runs_model_backend_authenticate,
    )

    paths = list(settings.AUTHENTICATION_BACKENDS)
    ours = account_backend_path()
    if ours is None:
        if MODEL_BACKEND not in paths:
            return []
        return [
            checks.Info(
                f"AUTHENTICATION_BACKENDS lists {MODEL_BACKEND} and not useraccounts' "
                "AccountBackend: the app's login page uses AccountBackend in its place, "
                "but Django's admin login and other code that calls authenticate() find "
                "users by their USERNAME_FIELD only, in exact letter case.",
                hint=f'Set AUTHENTICATION_BACKENDS = ["{ACCOUNT_BACKEND}"] (or put '
                f'"{ACCOUNT_BACKEND}" in place of "{MODEL_BACKEND}" beside your other '
                "backends). AccountBackend is a ModelBackend, so permissions keep working.",
                id="useraccounts.I001",
            )
        ]
    return [
        checks.Warning(
            f"AUTHENTICATION_BACKENDS lists {path} beside {ours}: a login that "
            f"{ours.rsplit('.', 1)[-1]} refuses is looked up and hashed again, so every "
            "failed login costs two password hashes instead of one.",
            hint=f'Remove "{path}" from AUTHENTICATION_BACKENDS. AccountBackend is a '
            "ModelBackend, so permissions keep working.",
            id="useraccounts.W004",
        )
        for path in paths
        if runs_model_backend_authenticate(path)
    ]


SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


@checks.register(checks.Tags.security, checks.Tags.compatibility)
def check_api_session_engine(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """W005: the JSON API's app clients log in with a token that is the key of a session
    in ``SESSION_ENGINE``'s store, so that logout, a password change or deactivation
    ends it. Signed-cookie sessions have no store: the "token" an app gets at login is
    the signed session itself, longer than any session key, which the API refuses (the
    app stays logged out) and which nothing could revoke if it took it.

    Only where the root URLconf includes the API: signed cookies are a sound choice for
    a site that serves the HTML pages alone, and a warning there would fail its
    ``check --fail-level WARNING`` for nothing. A Warning, not an Error: the pages and
    the API's browser clients, which use the cookie, still work.
    """
    if settings.SESSION_ENGINE != SIGNED_COOKIES or not _api_included():
        return []
    return [
        checks.Warning(
            f"SESSION_ENGINE is {SIGNED_COOKIES}, and the root URLconf includes "
            "useraccounts.api.urls: an app client's session token is the key of a "
            "session in the session store, and signed-cookie sessions have no store, "
            "so the API refuses every app's token (apps cannot stay logged in) and "
            "could not revoke one at logout.",
            hint='Set SESSION_ENGINE to a stored backend: "django.contrib.sessions.'
            'backends.db" (Django\'s default), "cached_db" or "cache" (with a shared, '
            "persistent cache). Keep signed_cookies only if no app client uses the API.",
            id="useraccounts.W005",
        )
    ]


def _api_included() -> bool:
    """Whether the root URLconf includes the JSON API's URLs, at any depth and under
    any instance namespace."""
    from django.urls import URLResolver, get_resolver

    def includes(resolver: URLResolver) -> bool:
        return resolver.app_name == API_APP_NAME or any(
            includes(p) for p in resolver.url_patterns if isinstance(p, URLResolver)
        )

    try:
        return includes(get_resolver())
    except Exception:  # the URLconf does not load: Django's own URL checks report it
        return False
