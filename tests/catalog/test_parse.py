"""Validating entities: Backstage compatibility, Keel's strict kinds, one line per problem."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.catalog import kinds, registry, service
from keel.errors import InputError
from tests.catalog.helpers import complete_system, entity, team, write
from tests.conftest import BACKSTAGE_EXAMPLES

INVALID = BACKSTAGE_EXAMPLES / "components" / "invalid-component.yaml"


def backstage_files():
    return sorted(p for p in BACKSTAGE_EXAMPLES.rglob("*.yaml") if p != INVALID)


def test_the_backstage_example_catalog_imports_as_it_is():
    index = json.loads((BACKSTAGE_EXAMPLES.parent / "entity_index.json").read_text())
    loaded = service.load(backstage_files())
    got = {(e.kind, e.ref.namespace, e.ref.name) for e in loaded.entities}
    expected = {(i["kind"], i["namespace"], i["name"]) for i in index}
    expected.discard(("Component", "default", "invalid component"))
    assert got == expected
    # all.yaml names files that were left out of the snapshot: warned about, not fatal
    assert any("all-apis.yaml" in w for w in loaded.warnings)
    # remote $text substitutions are kept as written, never fetched
    api = next(e for e in loaded.entities if e.ref.name == "wayback-search" and e.kind == "API")
    assert api.spec["definition"] == {"$text": api.spec["definition"]["$text"]}
    assert api.spec["definition"]["$text"].startswith("https://")


def test_backstage_relations_follow_backstage_defaults():
    loaded = service.load(backstage_files())
    by_key = {e.key: e for e in loaded.entities}
    different = by_key["component:alternative/different-namespace"]
    assert ("ownedBy", "group:default/team-a") in {(r.type, r.target) for r in different.relations}
    guest = by_key["user:development/guest"]
    assert {(r.type, r.target) for r in guest.relations} == {("memberOf", "group:default/team-a")}
    wayback = by_key["component:default/wayback-search"]
    rels = {(r.source, r.type, r.target) for r in wayback.relations}
    assert ("api:default/wayback-search", "providedBy", wayback.key) in rels
    assert (wayback.key, "consumesApi", "api:default/wayback-archive") in rels


def test_the_invalid_backstage_component_is_rejected_with_its_reasons():
    with pytest.raises(InputError) as info:
        service.load([INVALID])
    problems = info.value.problems
    assert any(":4: metadata.name: 'invalid component' is not a valid name" in p for p in problems)
    assert any("metadata.tags[1]" in p for p in problems)


@pytest.mark.parametrize(
    ("doc", "line_has"),
    [
        (entity("Widget", "w"), "kind: unknown kind 'Widget'"),
        ({**entity("Model", "m"), "extra": 1}, "extra: unknown field"),
        (entity("Model", "m", {"owner": "team-a", "colour": "red"}), "spec.colour: unknown field"),
        (entity("Model", "m", {"rollback": {"strategy": "pray"}}), "spec.rollback.strategy:"),
        (entity("Model", "m", {"rollback": {"strategy": "fallback"}}), "needs a target"),
        (
            entity("Model", "m", {"dependsOn": ["feature-store"]}),
            "spec.dependsOn[0]: 'feature-store' needs a kind",
        ),
        (
            entity("Model", "m", {"owner": "component:x"}),
            "spec.owner: 'component:x' must refer to a Group or User",
        ),
        (entity("Model", "m", {"dependsOn": ["gizmo:x"]}), "refers to unknown kind 'gizmo'"),
        (entity("Model", "Bad Name"), "metadata.name:"),
        (entity("Model", "m", namespace="Upper"), "metadata.namespace:"),
        (entity("Model", "m", labels={"k": "has space"}), "metadata.labels.k:"),
        (entity("Model", "m", colour="red"), "metadata.colour: unknown field"),
        (
            {**entity("Model", "m"), "apiVersion": "backstage.io/v1alpha1"},
            "apiVersion: Model needs apiVersion keel.dev/v1",
        ),
        (entity("Component", "c", {"owner": "team-a"}), "spec.type: required"),
        (entity("Group", "g", {"type": "team"}), "spec.children: required"),
        ({"kind": "Model", "metadata": {"name": "m"}}, "spec: required"),
        (["a", "list"], "document: an entity must be a mapping"),
        (entity("System", "s", {"owner": "t", "pod": {"riskLead": 3}}), "spec.pod.riskLead:"),
        (
            entity("System", "s", {"owner": "t", "pod": {"auditor": "x"}}),
            "spec.pod.auditor: unknown field",
        ),
    ],
)
def test_bad_entities_get_one_clear_line(tmp_path, doc, line_has):
    path = write(tmp_path / "bad.yaml", team(), doc)
    with pytest.raises(InputError) as info:
        service.load([path])
    problems = info.value.problems
    assert any(line_has in p for p in problems), problems
    for p in problems:
        assert p.startswith("bad.yaml:") or p.startswith(str(tmp_path))
        assert "\n" not in p
        _file, line, rest = p.split(":", 2)
        assert int(line) >= 1 and rest.strip()


def test_error_lines_point_at_the_field(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "apiVersion: keel.dev/v1\nkind: Model\nmetadata:\n  name: m\nspec:\n"
        "  owner: team-a\n  dependsOn:\n    - nokind\n"
    )
    with pytest.raises(InputError) as info:
        service.load([path])
    assert info.value.problems[0].endswith(
        "m.yaml:8: spec.dependsOn[0]: 'nokind' needs a kind here, as in 'component:nokind'"
    )


def test_duplicates_across_files_name_both_places(tmp_path):
    write(tmp_path / "a.yaml", team("t"))
    write(tmp_path / "b.yaml", team("T"))  # names compare case-insensitively
    with pytest.raises(
        InputError, match=r"duplicate Group default/T, first defined at .*a.yaml:\d"
    ):
        service.load([tmp_path])


def test_a_complete_map_parses_with_its_relations(tmp_path):
    loaded = service.load([write(tmp_path / "c.yaml", *complete_system())])
    model = next(e for e in loaded.entities if e.key == "model:default/model")
    assert {(r.type, r.target) for r in model.relations} == {
        ("ownedBy", "group:default/team-a"),
        ("partOf", "system:default/sys"),
        ("dependsOn", "featureset:default/feat"),
        ("rollbackTo", "model:default/baseline"),
    }
    system = next(e for e in loaded.entities if e.kind == "System")
    assert ("pod.riskLead", "user:default/pat") in {(r.type, r.target) for r in system.relations}


def test_kinds_can_be_registered_without_touching_the_parser(tmp_path):
    from pydantic import BaseModel, ConfigDict

    class PolicySpec(BaseModel):
        model_config = ConfigDict(extra="forbid")
        owner: str
        rules: list[str]

    registry.register(
        kinds.KindDef(
            "TestPolicy",
            kinds.KEEL,
            PolicySpec,
            refs=(kinds.RefField("owner", "ownedBy", "group", kinds.PEOPLE),),
        )
    )
    try:
        path = write(
            tmp_path / "p.yaml",
            {
                "apiVersion": "keel.dev/v1",
                "kind": "TestPolicy",
                "metadata": {"name": "p"},
                "spec": {"owner": "t", "rules": ["a"]},
            },
        )
        (parsed,) = service.load([path]).entities
        assert parsed.relations[0].target == "group:default/t"
    finally:
        registry.unregister("testpolicy")


@given(
    st.dictionaries(
        st.sampled_from(["apiVersion", "kind", "metadata", "spec", "x"]),
        st.none()
        | st.text(max_size=8)
        | st.integers()
        | st.dictionaries(st.sampled_from(["name", "owner", "type"]), st.text(max_size=8)),
        max_size=5,
    )
)
def test_any_mapping_is_an_entity_or_input_error(data):
    from keel.catalog.parse import parse_documents
    from keel.catalog.source import Document

    try:
        parse_documents([Document(data, "h.yaml", {})])
    except InputError as exc:
        assert all(p.startswith("h.yaml:") for p in exc.problems)
