"""The list of documented failure codes that ``tests/failure_codes.py`` holds the suite to."""

import re
from pathlib import Path

import pytest

from tests.failure_codes import documented_codes
from useraccounts import signals

API_MD = Path(__file__).resolve().parents[2] / "shared" / "API.md"


def test_every_failure_signal_documents_its_codes():
    failure_signals = {name for name in vars(signals) if name.endswith("_failed")}
    # The two about a password hash carry no code: they report a hasher's error.
    failure_signals -= {"user_password_check_failed", "user_password_set_failed"}
    assert {name for name, _code in documented_codes()} == failure_signals
    assert ("user_authentication_failed", "incorrect_password") in documented_codes()
    assert ("email_address_failed", "limit_reached") in documented_codes()
    # "add", "remove"... are values of ``action``, listed before the codes: not codes.
    assert ("email_address_failed", "add") not in documented_codes()


def test_the_parser_reads_a_code_list_that_spans_lines():
    source = (
        '# kwargs: user, error_type.\n# error_type: "one",\n# "two" (why).\nx_failed = Signal()\n'
    )
    assert documented_codes(source) == {("x_failed", "one"), ("x_failed", "two")}


@pytest.mark.skipif(not API_MD.exists(), reason="the contract lives beside the repository")
def test_signals_py_lists_every_code_api_md_lists():
    text = API_MD.read_text()
    for name, code in documented_codes():
        assert f"`{code}`" in text, (name, code)
    for name in {name for name, _code in documented_codes()}:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}`"))
        for code in re.findall(r"`(\w+)`", row.split("|")[-2]):
            if code not in {"add", "remove", "primary", "send"}:
                assert (name, code) in documented_codes(), (name, code)
