"""The shape the README's Architecture section promises: no import cycle inside the
package (counting imports inside functions too), and no module past about 400 lines."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "useraccounts"


def imports_of_each_module() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[:-1]  # what a relative import starts from, for both kinds of file
        if parts[-1] == "__init__":
            parts = parts[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                if node.module:
                    deps.add(".".join([*base, node.module]))
                else:
                    deps |= {".".join([*base, alias.name]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "useraccounts"
            ):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("useraccounts")}
        graph[".".join(parts)] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep in path:
                found.append([*path[path.index(dep) :], dep])
            elif dep in graph and dep not in done:
                visit(dep, [*path, dep])
        done.add(node)

    for module in sorted(graph):
        visit(module, [module])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    graph = imports_of_each_module()
    assert (
        "useraccounts.manager" in graph and "useraccounts.login" in graph["useraccounts.manager"]
    )
    assert cycles(graph) == []


def test_no_module_is_over_about_400_lines():
    lines = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {name: n for name, n in lines.items() if n > 420} == {}
