"""The package order holds and no module imports itself round a circle, at any level.

Imports are read with `ast` from every module under src/keel, at module level and inside
functions alike (a function-level import is a dependency too, only a later one). A package
may import only packages in its own layer or below it in `LAYERS`; the design's order
(audit < catalog < pipeline < incidents < evals < monitor < rollout < readiness < reports)
is a part of it. Named exceptions are the registries that list every package's parts (as
`store.schema` lists tables) and the pure reference parsers that `identity` needs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

SRC = REPO / "src" / "keel"

# lowest first; a package imports only from its own layer and the layers before it
LAYERS: list[set[str]] = [
    # foundations: import no other Keel package
    {"version", "errors", "clock", "config", "metrics", "models"},
    {"store"},  # engines, sessions, the declarative base
    {"identity"},  # who acts (with catalog.refs, see PURE)
    {"audit"},  # the spine every package writes its events to
    {"workspace"},  # settings + store + the transactions commands run in
    {"catalog"},
    {"auth"},  # tokens and sessions of catalog users
    {"pipeline"},
    {"incidents"},  # opened by people, the worker's jobs, the gateway's anomalies
    {"notifications"},  # webhooks and e-mail for events of the log
    {"readiness"},
    {"guard"},  # scanners: errors only
    {"gateway"},  # the data plane: reads catalog, pipeline promotions, guard
    {"demo"},
    {"serving"},  # the demo's model server
    {"worker"},  # `keel worker`: runs the jobs every package declares (see keel.worker.registry)
    {"web"},
    {"api"},
    {"cli"},
    {"keel"},  # the package root: the public surface (`keel.run`)
]
DESIGN_ORDER = ["audit", "catalog", "pipeline", "incidents", "evals", "monitor", "rollout"]
DESIGN_ORDER += ["readiness", "reports"]

# modules any layer may import: pure functions over strings, importing no other Keel module
PURE = {"keel.catalog.refs", "keel.catalog.rules", "keel.worker.registry"}
# modules -> what they may import from any package: the one place that lists every package's
# tables (and the migrations that build them from any package's functions), and kinds
REGISTRIES = [
    (re.compile(r"^keel\.store\.schema$"), re.compile(r"^keel\.\w+\.tables$")),
    (re.compile(r"^keel\.store\.migrations\."), re.compile(r"^keel\.")),
    (re.compile(r"^keel\.catalog\.registry$"), re.compile(r"^keel\.\w+\.(kinds|\w+_kind)$")),
]


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool
    type_only: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, source: str, is_package: bool) -> list[Import]:
    """Every import of a Keel module by `name`, resolved to the module it loads."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            func = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            typed = type_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                    for a in child.names
                ]
            for target in targets:
                resolved = _resolve(target) if target.split(".")[0] == "keel" else None
                if resolved and resolved != name:
                    found.append(Import(name, resolved, child.lineno, func, typed))
            visit(child, func, typed)

    visit(ast.parse(source), False, False)
    return found


def all_imports() -> list[Import]:
    return [
        i
        for name, path in sorted(MODULES.items())
        for i in imports_of(name, path.read_text(), path.name == "__init__.py")
    ]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "keel"


def layer_of(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"package {package!r} has no place in LAYERS")


def breaks_order(i: Import) -> bool:
    if i.target in PURE:
        return False
    if any(source.match(i.source) and target.match(i.target) for source, target in REGISTRIES):
        return False
    return layer_of(package_of(i.target)) > layer_of(package_of(i.source))


def cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_package_has_a_layer_and_the_design_order_is_kept():
    packages = {package_of(m) for m in MODULES}
    for package in packages:
        layer_of(package)
    placed = [p for layer in LAYERS for p in sorted(layer) if p in DESIGN_ORDER]
    assert placed == [p for p in DESIGN_ORDER if p in placed]


def test_imports_only_go_down_the_layers():
    wrong = [
        f"{MODULES[i.source].relative_to(REPO)}:{i.line}: {i.source} imports {i.target}"
        + (" (in a function)" if i.in_function else "")
        for i in all_imports()
        if breaks_order(i)
    ]
    assert not wrong, "imports against the package order:\n" + "\n".join(wrong)


def test_no_module_imports_round_a_circle():
    edges = [(i.source, i.target) for i in all_imports() if not i.type_only]
    found = cycles(edges)
    assert not found, f"import circles (module- and function-level): {found}"


def test_the_pure_modules_import_nothing_else_of_keel():
    for name in PURE:
        targets = {i.target for i in imports_of(name, MODULES[name].read_text(), False)}
        assert targets <= PURE, (name, targets)


@pytest.mark.parametrize(
    "edges, circle",
    [
        ([("a", "b"), ("b", "c"), ("c", "a")], [["a", "b", "c"]]),
        ([("a", "b"), ("b", "c"), ("a", "c")], []),
        ([("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")], [["a", "b"], ["c", "d"]]),
    ],
)
def test_the_circle_finder(edges, circle):
    assert sorted(cycles(edges)) == circle


def test_the_import_reader_sees_function_level_and_relative_imports():
    source = (
        "from keel.audit import events\n"
        "from . import kinds\n"
        "def f():\n"
        "    from keel.pipeline.runs import get_run\n"
    )
    found = {(i.target, i.in_function) for i in imports_of("keel.catalog.apply", source, False)}
    assert found == {
        ("keel.audit.events", False),
        ("keel.catalog.kinds", False),
        ("keel.pipeline.runs", True),
    }
    wrong = Import("keel.catalog.apply", "keel.pipeline.runs", 4, True, False)
    assert breaks_order(wrong)
