"""Action names: one rule, one list (docs/events.md), old stored names read as the new ones."""

from __future__ import annotations

import ast
import re

import pytest

from keel import audit
from keel.audit import log as audit_log
from keel.audit.actions import RENAMED, current, follows_rule, stored_names
from tests.conftest import REPO

DOC = REPO / "docs" / "events.md"
SRC = REPO / "src" / "keel"
PACKAGES = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())
SHAPE = re.compile(r"^[a-z]+(\.[a-z][a-z_]*){1,3}$")
FILE_TYPES = {"html", "md", "py", "json", "yaml", "yml", "js", "css", "txt", "pem"}
DECLARERS = {"job", "reconciler", "collector"}  # keel.worker.registry, keel.metrics
ROW = re.compile(r"^\| `([a-z_.]+)` \| (?:`([a-z_.]+)`)? *\|")


def documented() -> dict[str, str | None]:
    """action -> the old name it was stored under (or None), from the doc's table."""
    section = DOC.read_text().split("## Actions", 1)[1]
    return {m[1]: m[2] for line in section.splitlines() if (m := ROW.match(line))}


def emitted() -> dict[str, list[str]]:
    """Every action-shaped string in src/ (first part a Keel package, or passed to `Change`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path in (SRC / "audit" / "actions.py", SRC / "notifications" / "catalog.py"):
            continue  # the table of old names; the actions others write that one may subscribe to
        tree = ast.parse(path.read_text())
        work = {  # the names of jobs and reconcilers (`notifications.deliver`) are not actions
            id(n.args[0])
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) in ("job", "reconciler")
            and n.args
        }
        strings = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and SHAPE.match(n.value)
            and n.value.split(".")[0] in PACKAGES
            and n.value.rsplit(".", 1)[1] not in FILE_TYPES
            and id(n) not in work
        ]
        named = {  # the names of declared work and figures (`job("audit.verify", ...)`)
            id(n.args[0])
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) in DECLARERS
            and n.args
        }
        strings = [n for n in strings if id(n) not in named]
        changes = [
            n.args[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) == "Change"
            and n.args
            and isinstance(n.args[0], ast.Constant)
        ]
        work = {  # names of jobs and reconcilers (keel.worker.registry), not actions
            id(n.args[0])
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) in ("job", "reconciler")
            and n.args
        }
        strings = [n for n in strings if id(n) not in work]
        for node in strings + changes:
            found.setdefault(node.value, []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_action_the_code_writes_is_listed():
    listed = documented()
    code = emitted()
    assert len(code) >= 25  # the scan sees the emitters
    missing = {a: where for a, where in code.items() if a not in listed}
    assert not missing, f"actions written but not in docs/events.md: {missing}"


def test_every_listed_action_follows_the_rule_and_is_written():
    listed = documented()
    assert {a for a in listed if not follows_rule(a)} == set()
    assert {a for a in listed if a.split(".")[0] not in PACKAGES} == set()  # names its package
    assert set(listed) <= set(emitted()), "listed actions no code writes"


def test_the_old_names_are_the_table_of_renames():
    listed = documented()
    assert {old: new for new, old in listed.items() if old} == RENAMED
    assert not set(RENAMED) & set(emitted()), "new writes use the new names"
    assert not set(RENAMED) & set(RENAMED.values())


@pytest.mark.parametrize(
    "action, ok",
    [
        ("catalog.entity.created", True),
        ("gateway.route.set", True),
        ("auth.login_code.created", True),
        ("release.promote", False),
        ("stage.advance.refuse", False),
        ("pipeline.release.promoted.refused", False),
        ("pipeline.release.promote", False),
        ("Pipeline.release.promoted", False),
        ("pipeline..promoted", False),
    ],
)
def test_the_rule(action, ok):
    assert follows_rule(action) is ok


def test_a_renamed_action_is_read_by_its_new_name_and_stored_unchanged(sqlite_ws, admin):
    # an event written by a Keel from before the rename, then one written now
    with sqlite_ws.write(admin) as session:
        audit.append(session, admin, [audit.Change("release.promote", "m@1", {"x": 1})])
        audit.append(session, admin, [audit.Change("pipeline.release.promoted", "m@2", {"x": 2})])
    with sqlite_ws.read() as session:
        found = audit.list_events(session, action="pipeline.release.promoted")
        by_old = audit.list_events(session, action="release.promote")
        every = audit.list_events(session)
        verified = audit_log.verify(session, sqlite_ws.name)  # stored bytes still hash right
    assert verified.ok, verified.problems
    assert [e.subject for e in found] == ["m@1", "m@2"]
    assert [e.subject for e in by_old] == ["m@1", "m@2"]
    assert {e.action for e in found} == {"pipeline.release.promoted"}
    assert b'"action":"release.promote"' in found[0].body  # never rewritten
    assert found[0].record()["action"] == "release.promote"
    assert "workspace.store.created" in {e.action for e in every}


def test_current_and_stored_names():
    assert current("run.start") == "pipeline.run.started"
    assert current("catalog.entity.created") == "catalog.entity.created"
    assert stored_names("pipeline.run.started") == ["pipeline.run.started", "run.start"]
    assert stored_names("run.start") == ["pipeline.run.started", "run.start"]
