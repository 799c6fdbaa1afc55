"""The account manager: all account logic, in one replaceable class.

Views, forms, the admin and management commands call :class:`AccountManager` and never
repeat its logic. It sends every signal of :mod:`useraccounts.signals`. A project swaps
it with ``USERACCOUNTS_MANAGER = "myproject.accounts.MyManager"`` (a subclass) and reaches
the active one with :func:`get_account_manager`.

Each concern owns its operations whole, in the module named for it:

==============================  ==========================================================
module                          operations
==============================  ==========================================================
:mod:`~useraccounts.signup`          ``register_user``; hooks ``clean_username``, ``clean_email``
:mod:`~useraccounts.confirmation`    ``send_email_confirmation``, ``verify_email``
:mod:`~useraccounts.login`           ``authenticate_user``, ``logout_user``; hook
                                     ``get_login_redirect_url``
:mod:`~useraccounts.password_reset`  ``request_password_reset``, ``reset_password``
:mod:`~useraccounts.passwords`       ``change_password``; hook ``validate_password``
:mod:`~useraccounts.profile`         ``update_user``, ``delete_user``
:mod:`~useraccounts.addresses`       ``add_email``, ``remove_email``, ``set_primary_email``
:mod:`~useraccounts.bounces`         ``mark_undeliverable`` (the email provider's reports)
:mod:`~useraccounts.emails`          the one send path; hook ``send_mail``
==============================  ==========================================================

Every operation has one shape (:mod:`useraccounts.operations`): a start signal, the
work in one transaction with its success signals, and on any failure a rollback, then
the failure signal, then an :class:`~useraccounts.exceptions.AccountError` whose
``code`` is that signal's ``error_type`` or ``reason``. Each hook is defined in the
module whose steps call it, so every step calls only what its class inherits.
"""

from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .addresses import AddressesMixin
from .bounces import BouncesMixin
from .conf import app_settings
from .login import LoginMixin
from .password_reset import PasswordResetMixin
from .profile import ProfileMixin
from .signup import SignupMixin


class AccountManager(
    AddressesMixin, SignupMixin, PasswordResetMixin, LoginMixin, ProfileMixin, BouncesMixin
):
    """The account operations of the app; subclass it to change one step.

    Override points a subclass is expected to use: :meth:`validate_password`,
    :meth:`clean_username`, :meth:`clean_email`, :meth:`send_mail` and
    :meth:`get_login_redirect_url`.
    """


@functools.lru_cache(maxsize=8)
def _manager_class(path: str) -> type[AccountManager]:
    try:
        manager_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"USERACCOUNTS_MANAGER is {path!r}, which cannot be imported ({exc}). Set it to "
            'the dotted path of an AccountManager subclass, e.g. "myproject.accounts.MyManager".'
        ) from exc
    if not (isinstance(manager_class, type) and issubclass(manager_class, AccountManager)):
        raise ImproperlyConfigured(
            f"USERACCOUNTS_MANAGER is {path!r}, which is not a subclass of "
            "useraccounts.manager.AccountManager. Subclass it and point the setting at yours."
        )
    return manager_class


def get_account_manager() -> AccountManager:
    """The manager the project configured (``USERACCOUNTS_MANAGER``)."""
    return _manager_class(app_settings.MANAGER)()
