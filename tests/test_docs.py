"""The docs build without a warning and name only what exists."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from useraccounts.manager import AccountManager

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.mark.skipif(settings.AUTH_USER_MODEL != "auth.User", reason="run once")
def test_docs_build_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "upgrading.html").exists()
    assert "USERACCOUNTS_EMAIL_VERIFICATION" in (tmp_path / "settings.html").read_text()


def test_every_documented_operation_exists():
    text = (DOCS / "manager.rst").read_text()
    named = re.findall(r"^``(\w+)\(", text, re.M)
    assert len(named) == 13
    for name in named:
        assert callable(getattr(AccountManager, name, None)), name
    for hook in (
        "validate_password",
        "clean_username",
        "clean_email",
        "send_mail",
        "get_login_redirect_url",
    ):
        assert hook in text and callable(getattr(AccountManager, hook))


def test_every_public_method_of_the_manager_is_documented():
    """No undocumented public method: each one is a documented operation, a hook, or
    listed under "Further public methods" (anything else should be private)."""
    text = (DOCS / "manager.rst").read_text()
    public = {name for name in dir(AccountManager) if not name.startswith("_")}
    missing = sorted(name for name in public if f"``{name}" not in text)
    assert missing == []
    further = re.findall(r"^- ``(\w+)\(", text.split("Further public methods")[1], re.M)
    assert len(further) > 20
    assert [name for name in further if not callable(getattr(AccountManager, name, None))] == []


def test_every_documented_template_exists():
    text = (DOCS / "templates.rst").read_text()
    named = set(re.findall(r"``(useraccounts/[\w/]+\.(?:html|txt))``", text))
    templates = ROOT / "useraccounts" / "templates"
    shipped = {p.relative_to(templates).as_posix() for p in templates.rglob("*.*")}
    assert named == shipped  # every template is documented, and no other
