"""README.rst stays true: its tables match the code, it renders, and its "Try it"
section holds exactly two one-line commands (.ci/run runs both)."""

import io
import re
from pathlib import Path

import docutils.core
from django.urls import get_resolver

from tests.conftest import ALL_SIGNALS
from useraccounts.conf import DEFAULT_RATE_LIMITS, DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.rst").read_text()


def section(title: str) -> str:
    return README.split(f"\n{title}\n", 1)[1].split("\n\n\n", 1)[0]


def tables(text: str) -> list[list[str]]:
    """The first-column cells of each RST simple table in ``text``, header skipped."""
    found, lines = [], text.splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line)]
    for top, _head, bottom in zip(borders[::3], borders[1::3], borders[2::3], strict=True):
        width = len(lines[top].split(" ")[0])
        cells = [lines[i][:width].strip() for i in range(_head + 1, bottom)]
        found.append([c.strip("`") for c in cells if c])
    return found


def rst_warnings(text: str) -> str:
    """What docutils says about ``text`` at warning level and above."""
    warnings = io.StringIO()
    docutils.core.publish_string(
        text,
        writer="html",
        settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5},
    )
    return warnings.getvalue()


def test_readme_renders_without_warnings():
    assert rst_warnings(README) == ""


def test_try_it_has_two_one_line_commands():
    commands = re.findall(r"^    (\S.*)$", section("Try it"), re.M)
    assert len(commands) == 2
    assert commands[0].endswith("manage.py runserver")
    assert ".[test]" in commands[1] and "pytest" in commands[1]


def test_settings_table_lists_every_setting():
    settings_table = tables(section("Settings"))[0]
    assert {name.removeprefix("USERACCOUNTS_") for name in settings_table} == set(DEFAULTS)


def test_rate_limit_table_matches_the_defaults():
    rate_table = section("Settings").split("An action you leave\nout keeps its default:")[1]
    rows = dict(re.findall(r'^``(\w+)``\s+``"([^"]+)"``', rate_table, re.M))
    assert tables(rate_table)[0] == list(rows)
    assert rows == DEFAULT_RATE_LIMITS


def test_signal_table_lists_every_signal():
    assert sorted(tables(section("Signals"))[0]) == sorted(ALL_SIGNALS)


def test_url_table_lists_every_url_name():
    names = {
        n
        for n in get_resolver().namespace_dict["useraccounts"][1].reverse_dict
        if isinstance(n, str)
    }
    assert set(tables(section("URLs"))[0]) == names


def test_security_doc_names_only_tests_that_exist():
    """docs/security.rst cannot drift: each test it names is in the suite."""
    root = Path(__file__).resolve().parent
    doc = (root.parent / "docs" / "security.rst").read_text()
    named = re.findall(r"``(tests/\w+\.py)(?:::(\w+))?``", doc)
    assert len(named) > 30
    for path, test in named:
        source = (root.parent / path).read_text()
        assert not test or f"def {test}(" in source, f"{path}::{test}"
    assert rst_warnings(doc) == ""
