"""Signup, login, email confirmation, passwords and account management for Django.

Every success and every failure of an account operation is sent as a documented signal
(see :mod:`useraccounts.signals`); all account logic lives in
:class:`useraccounts.manager.AccountManager`.
"""

__version__ = "0.1.0"
