from benchmarks.settings_base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "useraccounts"]  # noqa: F405
USERACCOUNTS_RATE_LIMITS = False
USERACCOUNTS_EMAIL_VERIFICATION = "mandatory"
BENCH_APP = "useraccounts"
