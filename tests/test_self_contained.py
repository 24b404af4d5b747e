"""No file under src/ or tests/ reads outside the repository: a clone tests itself anywhere.

Two scans over every Python file: (1) a path climbed from `__file__` (`.parent`, `.parents[n]`,
directly or through a module-level name) never rises above the repository root; (2) no string
names a place outside it (`../`, absolute paths under /work, /home, /opt, /mnt, /srv, /data,
`~/`, or the sibling `shared` folder the test material used to come from).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

FILES = sorted(p for top in ("src", "tests") for p in (REPO / top).rglob("*.py"))
OUTSIDE = re.compile(
    r"(^|[\s\"'=(:])(\.\./|~/|/(work|home|opt|mnt|srv|data|root)/)|shared/testdata"
)


def _levels(node: ast.AST, names: dict[str, int]) -> int | None:
    """How many folders up from the file's own folder `node` points, or None if not a climb."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "Path" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id == "__file__":
                return -1  # the file itself: .parent is its folder (0 up)
        if isinstance(func, ast.Attribute) and func.attr in ("resolve", "absolute"):
            return _levels(func.value, names)
        return None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        base = _levels(node.value, names)
        return None if base is None else base + 1
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        base = _levels(node.value.value, names)
        return None if base is None else base + 1 + node.slice.value
    return None


def climbs(source: str) -> list[tuple[int, int]]:
    """(line, folders up from the file's folder) of every path climbed from `__file__`."""
    tree = ast.parse(source)
    names: dict[str, int] = {}
    for stmt in tree.body:  # module-level names bound to a climb: ROOT = Path(__file__).parents[1]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            level = _levels(stmt.value, names)
            if isinstance(target, ast.Name) and level is not None:
                names[target.id] = level
    found = []
    for node in ast.walk(tree):
        level = _levels(node, names)
        if level is not None and level >= 0:
            found.append((node.lineno, level))
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def strings_outside(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string (docstrings aside) that names a place outside the repository."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return [
        (node.lineno, node.value[:60])
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and OUTSIDE.search(node.value)
    ]


def test_no_path_climbs_out_of_the_repository():
    escapes = {}
    for path in FILES:
        depth = len(path.parent.relative_to(REPO).parts)  # folders between the file and the root
        found = [line for line, up in climbs(path.read_text()) if up > depth]
        if found:
            escapes[str(path.relative_to(REPO))] = found
    assert len(FILES) > 100  # the scan sees the tree
    assert not escapes, f"climbs above the repository: {escapes}"


def test_no_string_names_a_place_outside_the_repository():
    hits = {
        str(path.relative_to(REPO)): found
        for path in FILES
        if path != Path(__file__)  # this file's own examples
        and (found := strings_outside(path.read_text()))
    }
    assert not hits, f"places outside the repository: {hits}"


@pytest.mark.parametrize(
    "source, escapes",
    [
        ('from pathlib import Path\nX = Path(__file__).resolve().parents[2] / "shared"\n', True),
        ("from pathlib import Path\nROOT = Path(__file__).parent\nY = ROOT.parent.parent\n", True),
        ("from pathlib import Path\nX = Path(__file__).resolve().parents[1]\n", False),
        ("from pathlib import Path\nX = Path(__file__).parent / 'data'\n", False),
    ],
)
def test_the_climb_scan_sees_an_escape(source: str, escapes: bool):
    # as if the file were tests/x.py (one folder below the root): two up leaves the repository
    assert any(up > 1 for _, up in climbs(source)) is escapes


@pytest.mark.parametrize(
    "text, outside",
    [
        ("../shared/testdata/merkle", True),
        ("/work/shared/data", True),
        ("~/data.csv", True),
        ("/api/v1/releases", False),
        ("tests/vectors/merkle", False),
        ("sqlite:///ws/keel.db", False),
    ],
)
def test_the_string_scan_sees_an_outside_place(text: str, outside: bool):
    assert bool(strings_outside(f"X = {text!r}\n")) is outside
