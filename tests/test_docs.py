"""The docs build without a warning, name only what exists and render all of openapi.json."""

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from useraccounts.manager import AccountManager

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


RUN_ONCE = pytest.mark.skipif(settings.AUTH_USER_MODEL != "auth.User", reason="run once")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """The HTML docs, built once with warnings as errors for every test that reads them."""
    out = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return out


@RUN_ONCE
def test_docs_build_with_warnings_as_errors(built_docs):
    assert (built_docs / "upgrading.html").exists()
    assert "USERACCOUNTS_EMAIL_VERIFICATION" in (built_docs / "settings.html").read_text()


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _unrendered(page: str, document: dict) -> list[str]:
    """What of each operation the reference page leaves out of that operation's section:
    its method and path, its request body's fields (each a table cell), the error codes
    of its answers."""
    schemas = document["components"]["schemas"]
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            op_id = operation["operationId"]
            found = re.search(
                rf'<section id="{re.escape(op_id)}">(.*?)(?=<section|\Z)', page, re.S
            )
            section = found[1] if found else ""
            text = _text(section)
            cells = {_text(cell) for cell in re.findall(r"<td\b.*?</td>", section, re.S)}
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schema = content["schema"]
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
                missing += [
                    f"{op_id}: {f}" for f in schema.get("properties", {}) if f not in cells
                ]
            expected = [f"{method.upper()} {path.lstrip('/')}"]
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    expected += re.findall(r"`(\w+)`", response.get("description", ""))
                for content in response.get("content", {}).values():
                    for part in (content["schema"], *content["schema"].get("allOf", [])):
                        entry = part.get("properties", {}).get("errors", {}).get("items", {})
                        expected += entry.get("properties", {}).get("code", {}).get("enum", [])
            missing += [f"{op_id}: {name}" for name in expected if name not in text]
    return missing


@RUN_ONCE
def test_the_api_reference_renders_every_operation_of_openapi_json(built_docs):
    page = (built_docs / "api_reference.html").read_text()
    document = json.loads((ROOT / "useraccounts" / "api" / "openapi.json").read_text())
    assert _unrendered(page, document) == []
    # The check itself would notice an operation the page left out.
    document["paths"]["/nowhere"] = {"post": {"operationId": "nowhere", "responses": {}}}
    assert _unrendered(page, document) == ["nowhere: POST nowhere"]


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
