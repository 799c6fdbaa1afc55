"""The JSON API's OpenAPI document: valid OpenAPI 3.1, the one description of every route
of ``useraccounts.api.urls`` (with its methods, and nothing else), served at
``openapi.json``; and the live API fuzzed against it by schemathesis, as a browser and
as an app: no server error, and every answer's status, content type and body as
documented."""

from __future__ import annotations

import json
import os
from importlib.metadata import version

import hypothesis
import pytest
import requests
import schemathesis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.servers.basehttp import WSGIRequestHandler
from django.urls import reverse
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PASSWORD, create_account, login_name
from useraccounts.api import urls
from useraccounts.api.errors import STATUS
from useraccounts.api.views import OPENAPI_PATH
from useraccounts.forms import PASSWORD_MAX_LENGTH, EmailForm, LoginForm
from useraccounts.manager import get_account_manager
from useraccounts.users import has_username

DOCUMENT = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
OPERATIONS = [
    (path, method, spec)
    for path, methods in DOCUMENT["paths"].items()
    for method, spec in methods.items()
]


def operation_id(value) -> str:
    return value if isinstance(value, str) else ""


def body_schema(path: str, method: str) -> dict:
    return DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


# --- the document --------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_the_document_is_kept_in_one_format():
    """Two-space JSON, keys in the order written: diffs stay readable."""
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"


def test_the_document_names_the_package_version():
    assert DOCUMENT["info"]["version"] == version("django-useraccounts")


def test_every_route_is_documented_with_its_methods_and_nothing_else():
    routes = {}
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class
        methods = {m for m in view.http_method_names if m != "options" and hasattr(view, m)}
        routes["/" + str(pattern.pattern)] = methods
    documented = {path: set(methods) for path, methods in DOCUMENT["paths"].items()}
    assert documented == routes


def test_operation_ids_are_unique():
    ids = [spec["operationId"] for _path, _method, spec in OPERATIONS]
    assert len(ids) == len(set(ids))


def codes_of(spec: dict, status: int) -> list[str]:
    response = spec["responses"].get(str(status))
    if response is None:
        return []
    schema = response["content"]["application/json"]["schema"]
    return schema["properties"]["errors"]["items"]["properties"]["code"]["enum"]


def view_of(path: str):
    (pattern,) = [p for p in urls.urlpatterns if "/" + str(p.pattern) == path]
    return pattern.callback.view_class


@pytest.mark.parametrize(("path", "method", "spec"), OPERATIONS, ids=operation_id)
def test_each_error_status_lists_the_codes_the_api_answers_with_it(path, method, spec):
    responses = spec["responses"]
    assert len([status for status in responses if int(status) < 400]) == 1
    for status, response in responses.items():
        if int(status) < 400:
            continue
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"] == [{"$ref": "#/components/schemas/Error"}]
        codes = codes_of(spec, int(status))
        assert codes == sorted(set(codes)), codes
        # The status follows from the code, as the API answers it.
        assert codes and all(STATUS[code] == int(status) for code in codes), (status, codes)
        retry_after = response.get("headers", {}).get("Retry-After", {}).get("required")
        assert retry_after is (True if int(status) in (429, 503) else None), status
    # Any request may meet a fault of the session store (or of what the operation uses).
    assert "repository_error" in codes_of(spec, 503)


@pytest.mark.parametrize(("path", "method", "spec"), OPERATIONS, ids=operation_id)
def test_what_each_kind_of_request_may_answer_is_listed(path, method, spec):
    view = view_of(path)
    login_required = view.login_required
    assert codes_of(spec, 401) == (["not_authenticated"] if login_required else [])
    assert ({} not in spec["security"]) is login_required
    if method == "get":
        assert "requestBody" not in spec
        assert not {"invalid_json", "csrf_failed"} & {*codes_of(spec, 400), *codes_of(spec, 403)}
        assert "415" not in spec["responses"]
        return
    # A body is read: it may be unreadable, and a browser's request is CSRF-checked.
    assert {"validation_error", "invalid_json", "request_too_large"} <= set(codes_of(spec, 400))
    assert codes_of(spec, 415) == ["unsupported_media_type"]
    assert "csrf_failed" in codes_of(spec, 403)
    for requirement in spec["security"]:
        assert (
            not requirement
            or "appToken" in requirement
            or ({"csrfCookie", "csrfToken"} <= set(requirement))
        ), requirement
    (media_type,) = spec["requestBody"]["content"]
    assert media_type == "application/json"
    schema = body_schema(path, method)
    assert schema["properties"]["client"]["enum"] == ["browser", "app", None]
    # The keys the view reads, each with its JSON type or null.
    if path == "/profile":
        fields = set(get_account_manager().get_profile_fields())
    else:
        fields = set(view.input_fields)
        for name, kind in view.input_fields.items():
            json_type = "boolean" if kind is bool else "string"
            assert schema["properties"][name]["type"] == [json_type, "null"], name
    assert set(schema["properties"]) - {"client"} == fields
    assert set(schema.get("required", ())) <= fields
    if "example" in spec["requestBody"]["content"][media_type]:
        example = spec["requestBody"]["content"][media_type]["example"]
        Draft202012Validator(schema).validate(example)


def test_security_schemes_describe_both_kinds_of_client():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["appToken"] == {
        **schemes["appToken"],
        "in": "header",
        "name": "X-Session-Token",
    }
    assert schemes["csrfToken"]["in"] == "header" and schemes["csrfToken"]["name"] == "X-CSRFToken"
    assert schemes["browserSession"]["in"] == "cookie"
    session = DOCUMENT["paths"]["/session"]["get"]
    assert session["security"] == [{"browserSession": []}, {"appToken": []}]
    change = DOCUMENT["paths"]["/password/change"]["post"]
    assert {"browserSession": [], "csrfCookie": [], "csrfToken": []} in change["security"]


def test_input_limits_are_the_forms_own():
    assert body_schema("/login", "post")["properties"]["login"]["maxLength"] == (
        LoginForm.base_fields["login"].max_length
    )
    assert body_schema("/email", "post")["properties"]["email"]["maxLength"] == (
        EmailForm.base_fields["email"].max_length
    )
    signup = body_schema("/signup", "post")["properties"]
    assert signup["password1"]["maxLength"] == PASSWORD_MAX_LENGTH
    if has_username():
        User = get_user_model()
        assert signup["username"]["maxLength"] == User._meta.get_field("username").max_length
    # Unknown keys are ignored, except by the profile, which refuses them.
    assert body_schema("/signup", "post")["additionalProperties"] is True
    assert body_schema("/profile", "patch")["additionalProperties"] is False


@pytest.mark.django_db
def test_the_api_serves_its_document(client):
    response = client.get(reverse("useraccounts_api:openapi"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == OPENAPI_PATH.read_bytes()
    assert response.json() == DOCUMENT


# --- the live API, fuzzed against the document -----------------------------------------------

#: Examples of each operation's fuzzing phase, per client kind (the coverage phase adds its
#: boundary cases): enough to find what breaks, few enough for every CI run.
MAX_EXAMPLES = int(os.environ.get("USERACCOUNTS_FUZZ_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def fuzzing_config() -> SchemathesisConfig:
    config = SchemathesisConfig()
    config.update(seed=20261129, max_failures=None)
    project = config.projects.default
    # Credentials are the client's own (below), never generated values.
    project.generation.update(with_security_parameters=False, database="none")
    project.phases.update(phases=["examples", "coverage", "fuzzing"])
    return config


SCHEMA = schemathesis.openapi.from_path(OPENAPI_PATH, config=fuzzing_config())


#: Operations whose success ends the session, or leaves its account unusable by the
#: next case (a new password, no account), until the client starts again.
ENDING = ("/logout", "/account/delete", "/password/change")


class LiveClient:
    """A client of the live API, as a front end is one: a ``browser`` (the session and
    CSRF cookies, and the CSRF token in its header) or an ``app`` (its session token in
    ``X-Session-Token``; before it has one, ``"client": "app"`` in the body).

    For an operation that needs a login it is logged in to a real account, and logs in
    again when a request ended its session (as a front end would, with the rate limits
    the fuzzing spent forgotten). For any other it is a visitor, so that signup, login
    and the emailed links are fuzzed beyond "you are already logged in"."""

    def __init__(self, kind: str, base_url: str, user) -> None:
        self.kind, self.base_url, self.user = kind, base_url, user
        self.http = requests.Session()
        self.headers: dict[str, str] = {}
        self.logged_in: bool | None = None  # decided by the operation

    def start(self) -> None:
        cache.clear()
        # The account as the fixture made it, whatever an example did to it (the
        # documented examples change its password, or delete it).
        if get_user_model().objects.filter(pk=self.user.pk).exists():
            self.user.set_password(PASSWORD)
            self.user.save(update_fields=["password"])
        else:
            self.user = create_account()
        self.http.cookies.clear()
        self.headers = {}
        if self.kind == "browser":
            csrf = self.http.get(f"{self.base_url}/csrf").json()["csrf_token"]
            self.headers = {"X-CSRFToken": csrf}
        if not self.logged_in:
            return
        body = {"login": login_name(self.user), "password": PASSWORD}
        if self.kind == "app":
            body["client"] = "app"
        response = self.http.post(f"{self.base_url}/login", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        if self.kind == "app":
            self.headers = {"X-Session-Token": response.json()["session_token"]}
        else:
            self.headers = {"X-CSRFToken": response.json()["csrf_token"]}

    def send(self, case) -> requests.Response:
        if self.logged_in is None:
            spec = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
            self.logged_in = {} not in spec["security"]
            self.start()
        if self.kind == "app" and not self.logged_in and isinstance(case.body, dict):
            case.body["client"] = "app"
        if self.kind == "browser" and "csrftoken" in self.http.cookies:
            # As Django's docs have a front end do: the token is the cookie's, sent in the
            # header; a login rotates it (an app's too, declared in a browser's body).
            self.headers = {"X-CSRFToken": self.http.cookies["csrftoken"]}
        response = case.call(base_url=self.base_url, session=self.http, headers=self.headers)
        ended = case.operation.path in ENDING and response.status_code < 300
        if self.logged_in and (response.status_code == 401 or ended):
            self.start()
        elif self.logged_in and self.kind == "app" and "X-Session-Token" in response.headers:
            self.headers = {"X-Session-Token": response.headers["X-Session-Token"]}
        return response


@pytest.fixture(params=["browser", "app"])
def live_client(request, live_server, monkeypatch):
    # Django's test server sends an answer's headers and body in two writes: with
    # Nagle's algorithm on, each answer then waits for the client's delayed ACK (40 ms
    # on Linux), which would make this run eight times slower.
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
    client = LiveClient(request.param, f"{live_server.url}/api/accounts", create_account())
    yield client
    # Its kept-alive connections hold a server thread each, which must end before the
    # test's database does.
    client.http.close()


# Once per database, with Django's User: the other user model changes only signup's
# fields, which tests/test_api*.py cover with each model (and it keeps CI in budget).
@pytest.mark.skipif(
    settings.AUTH_USER_MODEL != "auth.User", reason="fuzzed once per database, with auth.User"
)
@pytest.mark.django_db(transaction=True)
@SCHEMA.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_the_live_api_answers_as_documented(case, live_client):
    response = live_client.send(case)
    case.validate_response(response, checks=CHECKS)
