"""Regressions from a hostile review: each input gets one clear line, or the right answer."""

from __future__ import annotations

import threading

import pytest

from keel import audit
from keel.catalog import service
from keel.catalog.export import export_yaml
from keel.catalog.impact import impact
from keel.catalog.refs import parse_ref
from keel.catalog.source import load_paths, parse_text
from keel.catalog.validate import validate
from keel.errors import InputError
from tests.catalog.graphs import graph_of, parse
from tests.catalog.helpers import entity, team, write


@pytest.mark.parametrize(
    "bad", ["datasource:" + "a" * 400, "team\0a", "Team A", "user:a b", "x:ns_1/y"]
)
def test_references_follow_the_naming_rules(bad):
    with pytest.raises(ValueError):
        parse_ref(bad, default_kind="group")


@pytest.mark.parametrize(
    "field",
    [
        {"name": "m1\n"},
        {"name": "m", "namespace": "default\n"},
        {"name": "m", "tags": ["x\n"]},
        {"name": "m", "labels": {"a": "b\n"}},
    ],
)
def test_a_trailing_newline_is_not_a_valid_name(field):
    doc = entity("Model", "m", {})
    doc["metadata"] = field
    with pytest.raises(InputError):
        parse([doc])


def test_yaml_12_reads_backstage_strings_as_strings():
    data = parse_text("a: yes\nb: on\nc: 1:30\nd: 2024-01-01\non: push\n")[0].data
    assert data == {"a": "yes", "b": "on", "c": "1:30", "d": "2024-01-01", "on": "push"}


def test_merge_keys_let_explicit_keys_win():
    data = parse_text("b: &b {type: s, lifecycle: prod}\nspec: {<<: *b, lifecycle: exp}\n")[0].data
    assert data["spec"] == {"type": "s", "lifecycle": "exp"}


def test_exploding_aliases_and_deep_nesting_are_cut_short():
    bomb = [
        "a0: &a0 [" + ", ".join(["x"] * 1000) + "]",
        "a1: &a1 [" + ", ".join(["*a0"] * 1000) + "]",
        "a2: [" + ", ".join(["*a1"] * 90) + "]",
    ]
    with pytest.raises(InputError, match="too many aliased nodes"):
        parse_text("\n".join(bomb))
    with pytest.raises(InputError, match="nested deeper than"):
        parse_text("x: " + "[" * 500 + "]" * 500)
    with pytest.raises(InputError, match="not a usable value"):
        parse_text("a: " + "9" * 5000)


def test_substituted_files_get_the_same_checks(tmp_path):
    (tmp_path / "d.yaml").write_text("released: 2024-01-01\nbad: !!binary aGk=\n")
    (tmp_path / "n.json").write_text('{"x": NaN}')
    (tmp_path / "e.yaml").write_text(
        "spec:\n  a: {$yaml: d.yaml}\n  b: {$json: n.json}\n  c: {$text: /dev/zero}\n"
    )
    with pytest.raises(InputError) as info:
        load_paths([tmp_path / "e.yaml"])
    problems = " ".join(info.value.problems)
    assert "binary values are not supported" in problems
    assert "NaN" in problems
    assert "not a regular file" in problems


def test_folders_skip_hidden_dirs_and_need_yaml(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yml").write_text("on: push\njobs: {}\n")
    write(tmp_path / "team.yaml", team())
    assert len(load_paths([tmp_path]).documents) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.yaml or \.yml files"):
        load_paths([tmp_path / "empty"])


def test_location_globs_expand(tmp_path):
    (tmp_path / "c").mkdir()
    write(tmp_path / "c" / "a.yaml", team("a"))
    write(tmp_path / "c" / "b.yaml", team("b"))
    (tmp_path / "loc.yaml").write_text(
        "kind: Location\nmetadata: {name: l}\nspec: {targets: ['./c/*.yaml']}\n"
    )
    assert len(load_paths([tmp_path / "loc.yaml"]).documents) == 3


def test_backstage_server_metadata_is_accepted():
    doc = team()
    doc["metadata"].update(uid="e01199ab", etag="abc", generation=3)
    (parsed,) = parse([doc])
    assert "uid" not in parsed.body["metadata"]


def test_export_with_locations_reapplies(ws, admin, tmp_path):
    write(tmp_path / "team.yaml", team("t"))
    (tmp_path / "loc.yaml").write_text(
        "kind: Location\napiVersion: backstage.io/v1alpha1\n"
        "metadata: {name: l}\nspec: {targets: [./team.yaml]}\n"
    )
    loaded = service.load([tmp_path])
    with ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
    with ws.read() as session:
        (tmp_path / "export.yaml").write_text(export_yaml(session))
    again = service.load([tmp_path / "export.yaml"])
    with ws.write(admin) as session:
        assert service.apply(session, admin, again.entities).changed == 0


def test_every_dangling_rollback_target_is_reported():
    docs = [
        team("t"),
        entity(
            "Model",
            "m",
            {"owner": "t", "rollback": {"strategy": "previous-version", "target": "model:ghost"}},
        ),
        entity(
            "Component",
            "c",
            {
                "type": "service",
                "lifecycle": "production",
                "owner": "t",
                "rollback": {"strategy": "fallback", "target": "component:gone"},
            },
        ),
    ]
    found = {(f.subject, f.check) for f in validate(graph_of(parse(docs))).findings}
    assert ("model:default/m", "rollback") in found
    assert ("component:default/c", "reference") in found


def test_a_cycle_shows_under_any_of_its_systems():
    docs = [
        team("t"),
        entity("System", "s2", {"owner": "t"}),
        entity("Model", "a-model", {"owner": "t", "dependsOn": ["model:b-model"]}),
        entity("Model", "b-model", {"owner": "t", "system": "s2", "dependsOn": ["model:a-model"]}),
    ]
    report = validate(graph_of(parse(docs)), system="system:default/s2")
    assert [f.check for f in report.findings if f.check == "cycle"] == ["cycle"]


def test_impact_by_name_ignores_case(sqlite_ws, admin):
    with sqlite_ws.write(admin) as session:
        service.apply(
            session, admin, parse([team("t"), entity("Model", "Credit-Scorer", {"owner": "t"})])
        )
    with sqlite_ws.read() as session:
        assert impact(session, "credit-scorer").root == "model:default/credit-scorer"


def test_concurrent_applies_serialise(ws, admin, tmp_path):
    """Two applies of overlapping files at once: both land whole, the history chains."""
    docs_b = [entity("Model", f"m{i}", {"owner": "team-b"}) for i in range(300)]
    docs_c = [entity("Model", f"m{i}", {"owner": "team-c"}) for i in range(300)]
    errors = []

    def run(docs):
        try:
            with ws.write(admin) as session:
                service.apply(session, admin, parse(docs))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in (docs_b, docs_c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ws.read() as session:
        history = audit.list_events(session, subject="model:default/m7")
    assert [e.action for e in history] == ["catalog.entity.created", "catalog.entity.updated"]
    assert history[1].details["before"] == history[0].details["after"]
