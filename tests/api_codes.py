"""A pytest plugin that holds the JSON API's tests to its OpenAPI document.

While the suite runs, every answer the Django test client gets from a path of
``useraccounts.api`` is recorded as (operation, status, code), the operation named as the
document names it (``POST /login``), and checked against the document at once:

- an answer the document does not describe (a status or a code the operation does not
  list, or a body that does not match the operation's schema for that status) fails
  the run, naming the test that got it, whatever part of the suite ran;
- a method no operation has must be answered 405 ``method_not_allowed`` (or 200 for
  ``OPTIONS``);
- when the whole suite ran and passed, each (operation, status, error code) the document
  lists, and each operation's success, that no test was answered fails the run, so a
  documented answer cannot stay untested (the tests themselves assert the status, the
  body and the signals sent).

The test client has no hook that sees its responses, so the plugin wraps
``ClientHandler.get_response`` (Django's test machinery, not the app) for the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

from tests.failure_codes import _whole_suite
from useraccounts.api.views import OPENAPI_PATH

DOCUMENT_URI = "urn:useraccounts:openapi"


def load_document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


#: The "code" of a success, in (operation, status, code).
SUCCESS = "(success)"


def documented_codes(document: dict[str, Any] | None = None) -> set[tuple[str, int, str]]:
    """Every (operation, status, code) of the document: each error code, and each
    success (as :data:`SUCCESS`)."""
    document = document or load_document()
    found = set()
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            operation = f"{method.upper()} {path}"
            for status, response in spec["responses"].items():
                if int(status) < 400:
                    found.add((operation, int(status), SUCCESS))
                for code in response_codes(response):
                    found.add((operation, int(status), code))
    return found


def response_codes(response: dict[str, Any]) -> list[str]:
    """The ``code`` enum of an error answer's schema ([] for a success)."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    errors = schema.get("properties", {}).get("errors", {})
    return list(errors.get("items", {}).get("properties", {}).get("code", {}).get("enum", []))


def route_paths() -> dict[str, str]:
    """The document's path of each URL name of ``useraccounts.api.urls``."""
    from useraccounts.api import urls

    return {pattern.name: "/" + str(pattern.pattern) for pattern in urls.urlpatterns}


@cache
def _validator(pointer: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load_document(), default_specification=DRAFT202012)
    registry = Registry().with_resource(DOCUMENT_URI, resource)
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass
class Recorder:
    document: dict[str, Any] = field(default_factory=load_document)
    paths: dict[str, str] = field(default_factory=route_paths)
    #: (operation, status, code) of every error answer seen.
    seen: set[tuple[str, int, str]] = field(default_factory=set)
    #: What no answer may be: (test, what was answered, why it is not documented).
    undocumented: list[tuple[str, str, str]] = field(default_factory=list)
    test: str = "?"

    def record(self, request: Any, response: Any) -> None:
        match = getattr(request, "resolver_match", None)
        if match is None or "useraccounts_api" not in match.app_names:
            return
        path = self.paths.get(match.url_name)
        if path is None:
            return
        method = request.method.upper()
        status = response.status_code
        operation = f"{method} {path}"
        body = self._body(response)
        codes = [e.get("code") for e in body.get("errors", [])] if isinstance(body, dict) else []
        spec = self.document["paths"].get(path, {}).get(method.lower())
        if spec is None:
            expected = 200 if method == "OPTIONS" else 405
            if status != expected or (status == 405 and codes != ["method_not_allowed"]):
                self._refuse(operation, status, codes, "no such operation: 405 expected")
            return
        documented = spec["responses"].get(str(status))
        if documented is None:
            self._refuse(operation, status, codes, "status not documented")
            return
        self.seen.update((operation, status, code) for code in codes or [SUCCESS])
        allowed = response_codes(documented)
        if status >= 400 and not set(codes) <= set(allowed):
            self._refuse(operation, status, codes, f"codes not in {allowed}")
        content = documented.get("content")
        if content is None:
            if response.content:
                self._refuse(operation, status, codes, "a body where none is documented")
            return
        if response.get("Content-Type", "").split(";")[0] not in content:
            self._refuse(operation, status, codes, f"content type {response['Content-Type']}")
            return
        pointer = "/".join(
            [
                "/paths",
                _escape(path),
                method.lower(),
                "responses",
                str(status),
                "content",
                "application~1json",
                "schema",
            ]
        )
        errors = [e.message for e in _validator(pointer).iter_errors(body)]
        if errors:
            self._refuse(operation, status, codes, "body: " + "; ".join(errors[:3]))

    @staticmethod
    def _body(response: Any) -> Any:
        if not response.get("Content-Type", "").startswith("application/json"):
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            return None

    def _refuse(self, operation: str, status: int, codes: list, why: str) -> None:
        self.undocumented.append((self.test, f"{operation} -> {status} {codes}", why))

    def missing(self) -> list[tuple[str, int, str]]:
        return sorted(documented_codes(self.document) - self.seen)


_recorder: Recorder | None = None
_original: Any = None


def pytest_configure(config: pytest.Config) -> None:
    global _recorder, _original
    from django.test.client import ClientHandler

    _recorder = Recorder()
    _original = ClientHandler.get_response
    original, recorder = _original, _recorder

    def get_response(self: Any, request: Any) -> Any:
        response = original(self, request)
        recorder.record(request, response)
        return response

    ClientHandler.get_response = get_response


def pytest_unconfigure(config: pytest.Config) -> None:
    from django.test.client import ClientHandler

    if _original is not None:
        ClientHandler.get_response = _original


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    if _recorder is not None:
        _recorder.test = item.nodeid
    return (yield)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _recorder is None:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if _recorder.undocumented:
        lines = [f"  {test}: {what}: {why}" for test, what, why in _recorder.undocumented]
        reporter.write_line(
            "API answers the OpenAPI document does not describe (fix the API, or "
            "useraccounts/api/openapi.json):\n" + "\n".join(lines),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    if exitstatus != 0 or not _whole_suite(session):
        return
    missing = _recorder.missing()
    if missing:
        lines = [f"  {operation}: {status} {code}" for operation, status, code in missing]
        reporter.write_line(
            "Answers of the OpenAPI document that no test was given (add a test that "
            "asserts the status, the body and the signals of each):\n" + "\n".join(lines),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
