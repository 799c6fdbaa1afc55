"""A pytest plugin that keeps "every failure signal and code is sent by a test" true.

``useraccounts/signals.py`` lists, in the comment above each failure signal, every
``error_type`` or ``reason`` it may carry (the same lists as API.md). While the suite runs,
this plugin records each (signal, code) actually sent. When the whole suite ran and
passed, a documented code that no test sent fails the run, naming the pair, so a new code
cannot land untested and a code nobody sends any more is noticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from useraccounts import signals as ua_signals

SIGNALS_PY = Path(ua_signals.__file__)
_sent: set[tuple[str, str]] = set()
_receivers: list = []


def documented_codes(source: str | None = None) -> set[tuple[str, str]]:
    """The (signal, code) pairs that the comments of ``signals.py`` document."""
    source = SIGNALS_PY.read_text() if source is None else source
    pairs = set()
    for comment, name in re.findall(r"((?:^#.*\n)+)(\w+_failed) = Signal\(\)", source, re.M):
        codes = re.split(r"^# (?:error_type|reason):", comment, maxsplit=1, flags=re.M)
        if len(codes) == 2:
            pairs |= {(name, code) for code in re.findall(r'"(\w+)"', codes[1])}
    return pairs


def _record(name: str):
    def receiver(sender, **kwargs):
        code = kwargs.get("error_type", kwargs.get("reason"))
        if code:
            _sent.add((name, code))

    return receiver


def pytest_sessionstart(session: pytest.Session) -> None:
    for name in {name for name, _code in documented_codes()}:
        receiver = _record(name)
        _receivers.append(receiver)  # signals hold receivers weakly
        getattr(ua_signals, name).connect(receiver)


def _whole_suite(session: pytest.Session) -> bool:
    option = session.config.option
    chosen = [arg for arg in session.config.args if arg not in session.config.getini("testpaths")]
    narrowed = (
        option.keyword,
        option.markexpr,
        option.maxfail,
        getattr(option, "lf", False),
        getattr(option, "deselect", None),
        getattr(option, "ignore", None),
    )
    return not (chosen or any(narrowed))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != 0 or not _whole_suite(session):
        return
    missing = sorted(documented_codes() - _sent)
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"  {name}: {code}" for name, code in missing]
        reporter.write_line(
            "Documented failure codes that no test sent (add a test that sends each):\n"
            + "\n".join(lines),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
