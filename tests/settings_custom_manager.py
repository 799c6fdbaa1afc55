"""The story tests with a project's own account manager, installed the documented way:
``USERACCOUNTS_MANAGER`` names a subclass that overrides all five override points."""

from tests.settings import *  # noqa: F403

USERACCOUNTS_MANAGER = "tests.custom_manager.HookedManager"
