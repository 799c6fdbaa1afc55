"""Sphinx configuration: plain reStructuredText, no Django import needed to build."""

project = "django-useraccounts"
author = "django-useraccounts developers"
copyright = "2026, django-useraccounts developers"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "django-useraccounts"
