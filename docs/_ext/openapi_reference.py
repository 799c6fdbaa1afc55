"""Render the API's OpenAPI document as a docs page, so the reference cannot drift from it.

``useraccounts/api/openapi.json`` is the single description of every endpoint; a page
written beside it by hand would say everything twice and, sooner or later, say it
differently. The ``openapi-reference`` directive reads the document when the docs are
built (and notes it as a dependency, so editing it rebuilds the page) and turns it into
sections and tables. It builds docutils nodes directly rather than generating
reStructuredText: the document's descriptions are Markdown, and turning Markdown's three
inline forms into nodes is safer than escaping everything reST could misread in them.
It reads the JSON file by path and imports neither Django nor the package, so the docs
still build without either.
"""

import json
import re
from http import HTTPStatus
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.typing import ExtensionMetadata

Schema = dict[str, Any]
Inline = list[nodes.Node]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# A code span (closed by a run of as many backticks), then **strong**, then *emphasis*;
# a `*` with a space on its inner side is no emphasis, so a lone one stays text.
MARKDOWN_INLINE = re.compile(
    r"(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
    r"|\*\*(?P<strong>\S(?:.*?\S)?)\*\*"
    r"|\*(?P<emphasis>\S(?:.*?\S)?)\*"
)
CODE_LIST = re.compile(r"\s*`[^`]+`(?:\s*,\s*`[^`]+`)*\s*")

# Keywords that bound a value, worded for the "Limits" column.
LIMITS = {
    "minLength": "at least {} character{s}",
    "maxLength": "at most {} character{s}",
    "minItems": "at least {} item{s}",
    "maxItems": "at most {} item{s}",
    "minimum": "at least {}",
    "maximum": "at most {}",
}


def inline(text: str) -> Inline:
    """Markdown's code spans, bold and italic as nodes; anything else stays plain text."""
    result: Inline = []
    end = 0
    for match in MARKDOWN_INLINE.finditer(text):
        result.append(nodes.Text(text[end : match.start()]))
        if match["code"] is not None:
            result.append(nodes.literal(match["code"], match["code"]))
        elif match["strong"] is not None:
            result.append(nodes.strong("", "", *inline(match["strong"])))
        else:
            result.append(nodes.emphasis("", "", *inline(match["emphasis"])))
        end = match.end()
    result.append(nodes.Text(text[end:]))
    return [node for node in result if node.astext()]


def markdown(text: str) -> list[nodes.Element]:
    """Paragraphs split on blank lines; a single line break is a space, as in Markdown."""
    blocks = re.split(r"\n\s*\n", text.strip())
    return [para(*inline(re.sub(r"\s*\n\s*", " ", b.strip()))) for b in blocks if b.strip()]


def texts(*children: nodes.Node | str) -> Inline:
    return [nodes.Text(c) if isinstance(c, str) else c for c in children]


def para(*children: nodes.Node | str) -> nodes.paragraph:
    return nodes.paragraph("", "", *texts(*children))


def code(text: str) -> nodes.literal:
    return nodes.literal(text, text)


def joined(parts: list[Inline], last: str = " or ") -> Inline:
    """``a, b or c``: how the page words every list of alternatives."""
    result: Inline = []
    for index, part in enumerate(parts):
        if index:
            result.append(nodes.Text(last if index == len(parts) - 1 else ", "))
        result.extend(part)
    return result


def table(header: list[str], rows: list[list[list[nodes.Element]]]) -> nodes.table:
    group = nodes.tgroup(cols=len(header))
    group += [nodes.colspec(colwidth=1) for _ in header]
    group += nodes.thead("", nodes.row("", *(nodes.entry("", para(h)) for h in header)))
    group += nodes.tbody("", *(nodes.row("", *(nodes.entry("", *c) for c in r)) for r in rows))
    return nodes.table("", group, classes=["colwidths-auto"], width="100%")


def section(node_id: str, *title: nodes.Node | str) -> nodes.section:
    """A section with its id set: no implicit name, so tag and operation titles cannot
    clash with each other or with labels elsewhere in the docs."""
    return nodes.section("", nodes.title("", "", *texts(*title)), ids=[node_id])


def json_type(value: object) -> str:
    if value is None:
        return "null"
    kinds = ((bool, "boolean"), (int | float, "number"), (str, "string"), (list, "array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "object")


class Renderer:
    """One document's nodes; it holds the document because ``$ref`` points into it."""

    def __init__(self, spec: Schema, document: nodes.document) -> None:
        self.spec = spec
        self.document = document
        self.schemes: Schema = spec.get("components", {}).get("securitySchemes", {})

    def render(self) -> list[nodes.Node]:
        info = self.spec["info"]
        result: list[nodes.Node] = [
            para(
                nodes.strong("", info["title"]),
                f", version {info['version']} (OpenAPI {self.spec['openapi']}).",
            ),
            *markdown(info.get("description", "")),
        ]
        if servers := self.spec.get("servers"):
            result.append(para("The paths below are relative to:"))
            items = [
                [para(code(s["url"]), ": ", *inline(s.get("description", "")))] for s in servers
            ]
            result.append(nodes.bullet_list("", *(nodes.list_item("", *i) for i in items)))
        if self.schemes:
            result.append(self.credentials())
        result.extend(self.tag_section(tag, operations) for tag, operations in self.by_tag())
        if schemas := self.spec.get("components", {}).get("schemas"):
            result.append(self.schemas(schemas))
        return result

    def by_tag(self) -> list[tuple[Schema, list[tuple[str, str, Schema]]]]:
        """Operations under their first tag, in the document's tag order, then any tag it
        does not declare; an untagged operation is under "other" rather than left out."""
        groups: dict[str, list[tuple[str, str, Schema]]] = {
            tag["name"]: [] for tag in self.spec.get("tags", [])
        }
        for path, item in self.spec["paths"].items():
            for method in (m for m in item if m in METHODS):
                tag = (item[method].get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append((method, path, item[method]))
        declared = {tag["name"]: tag for tag in self.spec.get("tags", [])}
        return [(declared.get(name, {"name": name}), ops) for name, ops in groups.items() if ops]

    def credentials(self) -> nodes.section:
        node = section("credentials", "Clients and credentials")
        node += markdown(
            "Each operation lists the kinds of client it serves: a *browser* sends cookies, an"
            " *app* a header and no cookie, an *anonymous* request none. The credentials are:"
        )
        rows = [
            [
                [para(code(name))],
                [para(self.scheme(scheme))],
                markdown(scheme.get("description", "")),
            ]
            for name, scheme in self.schemes.items()
        ]
        node += table(["Scheme", "Sent as", "Description"], rows)
        return node

    @staticmethod
    def scheme(scheme: Schema) -> nodes.Node:
        """Where an API key goes: the document's schemes are all cookies and headers."""
        return nodes.inline("", "", nodes.Text(f"{scheme['in']} "), code(scheme["name"]))

    def clients(self, requirements: list[Schema]) -> nodes.bullet_list:
        items = []
        for requirement in requirements or [{}]:
            used = [self.schemes[name] for name in requirement]
            if not used:
                kind, sent = "anonymous", [[nodes.Text("no credentials")]]
            else:
                kind = "browser" if any(s.get("in") == "cookie" for s in used) else "app"
                sent = [[self.scheme(scheme)] for scheme in used]
            items.append(para(nodes.strong("", kind), ": ", *joined(sent, " and ")))
        return nodes.bullet_list("", *(nodes.list_item("", item) for item in items))

    def tag_section(self, tag: Schema, operations: list[tuple[str, str, Schema]]) -> nodes.section:
        name = tag["name"]
        node = section(nodes.make_id(f"tag-{name}"), name[:1].upper() + name[1:])
        node += markdown(tag.get("description", ""))
        node += [self.operation(method, path, op) for method, path, op in operations]
        return node

    def operation(self, method: str, path: str, operation: Schema) -> nodes.section:
        """The section of one operation: its anchor is its operationId, its label
        ``api-<operationId>``, for ``:ref:`` from any page."""
        op_id = operation["operationId"]
        title = [code(f"{method.upper()} {path.lstrip('/')}")]
        if summary := operation.get("summary"):
            title.append(nodes.Text(f" — {summary}"))
        node = section(op_id, *title)
        node["names"].append(f"api-{op_id}")
        self.document.note_explicit_target(node)
        node += markdown(operation.get("description", ""))
        security = operation.get("security", self.spec.get("security", []))
        clients = nodes.field("", nodes.field_name("", "Clients"), nodes.field_body())
        clients[1] += self.clients(security)
        node += nodes.field_list("", clients)
        if body := operation.get("requestBody"):
            node += self.request(body)
        node += self.responses(operation["responses"])
        return node

    def request(self, body: Schema) -> list[nodes.Node]:
        result: list[nodes.Node] = [nodes.rubric("", "Request body")]
        for media_type, content in body.get("content", {}).items():
            schema = self.resolve(content.get("schema", {}))
            intro = [code(media_type), ", required. " if body.get("required") else ", optional. "]
            if schema.get("additionalProperties") is False:
                intro.append("Any key not listed is refused. ")
            result.append(para(*intro, *inline(body.get("description", ""))))
            result += self.body(content.get("schema", {}), "Required")
            if "example" in content:
                result.append(para("Example:"))
                example = json.dumps(content["example"], indent=2, ensure_ascii=False)
                result.append(nodes.literal_block(example, example, language="json"))
        return result

    def responses(self, responses: Schema) -> list[nodes.Node]:
        rows, bodies = [], []
        for status, response in responses.items():
            response = self.resolve(response)
            answer = self.answer(response)
            for name, header in response.get("headers", {}).items():
                answer.append(
                    para("Header ", code(name), ": ", *inline(header.get("description", "")))
                )
            rows.append([[para(self.status(status))], answer])
            if status.startswith("2"):
                for media_type, content in response.get("content", {}).items():
                    bodies.append(nodes.rubric("", f"{status} response body ({media_type})"))
                    bodies += self.body(content.get("schema", {}), "Always")
        return [nodes.rubric("", "Responses"), table(["Status", "Answer"], rows), *bodies]

    def answer(self, response: Schema) -> list[nodes.Element]:
        """The description, but not when it only lists the error codes shown below it."""
        description = response.get("description", "")
        codes = [
            value
            for content in response.get("content", {}).values()
            for value in self.error_codes(content.get("schema", {}))
        ]
        if not codes:
            return markdown(description)
        named = set(re.findall(r"`([^`]+)`", description))
        answer = (
            []
            if CODE_LIST.fullmatch(description) and named <= set(codes)
            else markdown(description)
        )
        return [*answer, para("Error codes: ", *joined([[code(c)] for c in codes], ", "))]

    @staticmethod
    def error_codes(schema: Schema) -> list[str]:
        """The ``enum`` of ``errors[].code``, where the document narrows the Error shape."""
        codes: list[str] = []
        for part in (schema, *schema.get("allOf", [])):
            entry = part.get("properties", {}).get("errors", {}).get("items", {})
            codes += entry.get("properties", {}).get("code", {}).get("enum", [])
        return codes

    @staticmethod
    def status(status: str) -> str:
        try:
            return f"{status} {HTTPStatus(int(status)).phrase}"
        except ValueError:
            return status

    def body(self, schema: Schema, required: str) -> list[nodes.Node]:
        """A body's fields; for ``oneOf``, each alternative's, in turn."""
        if alternatives := schema.get("oneOf") or schema.get("anyOf"):
            choices = nodes.enumerated_list("", enumtype="arabic", prefix="", suffix=".")
            choices += [nodes.list_item("", *self.body(a, required)) for a in alternatives]
            return [para("One of these bodies:"), choices]
        result = [para(self.link(schema["$ref"]), ":")] if "$ref" in schema else []
        schema = self.resolve(schema)
        if "properties" in schema or "required" in schema:
            return [*result, self.fields(schema, required)]
        return [*result, para("A JSON ", *self.type_of(schema), ".")]

    def fields(self, schema: Schema, required: str) -> nodes.table:
        properties = schema.get("properties", {})
        needed = schema.get("required", [])
        names = [*properties, *(name for name in needed if name not in properties)]
        rows = [
            [
                [para(code(name))],
                [para(*self.type_of(field))],
                [para("yes" if name in needed else "no")],
                [para(*self.limits(field))],
                markdown(field.get("description", "")),
            ]
            for name, field in ((name, properties.get(name, {})) for name in names)
        ]
        return table(["Field", "Type", required, "Limits", "Description"], rows)

    def type_of(self, schema: Schema) -> Inline:
        if "$ref" in schema:
            return [self.link(schema["$ref"])]
        if "const" in schema:
            return [nodes.Text(json_type(schema["const"]))]
        if alternatives := schema.get("oneOf") or schema.get("anyOf"):
            return joined([self.type_of(alternative) for alternative in alternatives])
        names = schema.get("type", [])
        parts: list[Inline] = []
        for name in [names] if isinstance(names, str) else names:
            values = schema.get("additionalProperties")
            if name == "array" and "items" in schema:
                parts.append([nodes.Text("array of "), *self.type_of(schema["items"])])
            elif name == "object" and isinstance(values, dict):
                parts.append(
                    [nodes.Text("object of "), *self.type_of(values), nodes.Text(" values")]
                )
            else:
                parts.append([nodes.Text(name)])
        return joined(parts) or [nodes.Text("any")]

    @staticmethod
    def limits(schema: Schema) -> Inline:
        parts: list[Inline] = []
        if "enum" in schema:
            values = [[code(json.dumps(value))] for value in schema["enum"]]
            parts.append([nodes.Text("one of "), *joined(values)])
        if "const" in schema:
            parts.append([nodes.Text("always "), code(json.dumps(schema["const"]))])
        parts += [
            [nodes.Text(text.format(schema[key], s="" if schema[key] == 1 else "s"))]
            for key, text in LIMITS.items()
            if key in schema
        ]
        if "format" in schema:
            parts.append([nodes.Text("format "), code(schema["format"])])
        if "pattern" in schema:
            parts.append([nodes.Text("matching "), code(schema["pattern"])])
        return joined(parts, "; ")

    def resolve(self, schema: Schema) -> Schema:
        """Follow ``$ref`` (a JSON pointer into this document) to what it names."""
        while "$ref" in schema:
            target: Any = self.spec
            for key in schema["$ref"].removeprefix("#/").split("/"):
                target = target[key.replace("~1", "/").replace("~0", "~")]
            schema = target
        return schema

    def link(self, ref: str) -> nodes.reference:
        """A named schema, linked to its entry under "Schemas"."""
        name = ref.rsplit("/", 1)[-1]
        return nodes.reference(
            "", "", code(name), refid=nodes.make_id(f"schema-{name}"), internal=True
        )

    def schemas(self, schemas: Schema) -> nodes.section:
        node = section("schemas", "Schemas")
        node += para("The named bodies the operations above refer to.")
        for name, schema in schemas.items():
            entry = section(nodes.make_id(f"schema-{name}"), code(name))
            entry += markdown(schema.get("description", ""))
            entry += self.body(schema, "Always")
            node += entry
        return node


class OpenAPIReference(SphinxDirective):
    """``.. openapi-reference:: path/to/openapi.json``, the path relative to the page
    (or, starting with ``/``, to the docs directory), as ``literalinclude`` takes it."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        relative, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(relative)
        try:
            with open(path, encoding="utf-8") as file:
                spec = json.load(file)
            return Renderer(spec, self.state.document).render()
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self.error(f"cannot render {relative}: {error!r}") from error


def setup(app: Sphinx) -> ExtensionMetadata:
    app.add_directive("openapi-reference", OpenAPIReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
