"""activitylog's parts import one another without a cycle, and http builds the API only from
what it is given. A part is a subpackage (http, engine, store, ...) or a top-level module
(serving, demo, cli, ...); every import counts, those inside functions included."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import activitylog

PACKAGE = Path(activitylog.__file__).parent
ROOT = "activitylog"  # the package's own __init__: `from activitylog import __version__`
Graph = Mapping[str, set[str]]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """``activitylog.http.app`` is in http, ``activitylog.serving`` is serving."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> Iterator[str]:
    """The activitylog modules that ``path`` imports."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *filter(None, [node.module])])
            for alias in node.names:  # `from activitylog import errors` imports a module
                submodule = f"{base}.{alias.name}"
                yield submodule if _is_module(submodule) else base


def dependency_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _part(_module_name(path))
        imported = {_part(m) for m in _imports(path) if m.split(".")[0] == ROOT}
        graph.setdefault(importer, set()).update(imported - {importer})
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Each cycle found by a depth-first walk, as the parts along it, the first one last too."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(part: str, trail: list[str]) -> None:
        if part in trail:
            found.append([*trail[trail.index(part) :], part])
            return
        if part in done:
            return
        for imported in sorted(graph.get(part, ())):
            walk(imported, [*trail, part])
        done.add(part)

    for part in sorted(graph):
        walk(part, [])
    return found


def test_the_parts_import_one_another_without_a_cycle() -> None:
    assert cycles(dependency_graph()) == []


def test_http_builds_the_api_from_what_it_is_given() -> None:
    # The assembly (store, service types, worker, demo tenant) is serving's job.
    assert dependency_graph()["http"] & {"engine", "demo", "serving", "cli"} == set()


def test_the_graph_sees_the_imports_that_matter() -> None:
    graph = dependency_graph()

    assert {"http", "engine", "demo", "store"} <= graph["serving"]  # top-level and nested
    assert "errors" in graph["http"]  # `from activitylog import errors`
    assert "store" in graph["cli"]  # imported inside functions only


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"http": {"demo"}, "demo": {"http", "store"}}) == [["demo", "http", "demo"]]
