"""Sphinx configuration: plain reStructuredText, no Django import needed to build.

The one extension, ``_ext/openapi_reference.py``, reads ``openapi.json`` as a file.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "django-useraccounts"
author = "django-useraccounts developers"
copyright = "2026, django-useraccounts developers"
exclude_patterns = ["_build"]
extensions = ["openapi_reference"]
html_theme = "alabaster"
html_title = "django-useraccounts"
