"""Near-miss keys in catalog YAML (issue 13): `spec.pods` on a System was accepted and the
pod silently missing. Keel's kinds refuse an unknown spec key with its file:line, the key and
the nearest accepted one; Backstage's kinds may carry other fields, so a near miss there is a
warning. No unknown key is ever dropped without a word: refused, warned, or kept as written."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.catalog import kinds, service
from keel.errors import InputError
from tests.catalog.helpers import entity, team, write


def test_a_misspelt_pod_on_a_system_is_warned_with_the_key_meant(tmp_path):
    path = write(
        tmp_path / "s.yaml", team(), entity("System", "s", {"owner": "team-a", "pods": {}})
    )
    loaded = service.load([path])
    (warning,) = loaded.warnings
    assert warning.startswith(f"{path}:15: spec.pods: ")  # file:line, the key
    assert "did you mean `pod`?" in warning
    assert loaded.entities[1].spec["pods"] == {}  # kept, as Backstage keeps it


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ({"owner": "team-a", "sytem": "s"}, "spec.sytem: unknown field (accepted: owner, system"),
        ({"owner": "team-a", "rollback": {"strategy": "disable", "runbok": "x"}}, "runbook"),
        ({"ownr": "team-a"}, "did you mean `owner`?"),
    ],
)
def test_keel_kinds_refuse_a_near_miss_naming_the_key_meant(tmp_path, spec, line):
    path = write(tmp_path / "m.yaml", team(), entity("Model", "m", spec))
    with pytest.raises(InputError) as info:
        service.load([path])
    found = [p for p in info.value.problems if "unknown field" in p]
    assert len(found) == 1 and line in found[0], info.value.problems
    assert found[0].startswith(f"{path}:") and found[0].split(":")[1].isdigit()
    assert "did you mean `" in found[0]


def test_a_nested_near_miss_in_a_backstage_kind_is_refused_where_the_model_is_keels(tmp_path):
    doc = entity("System", "s", {"owner": "team-a", "pod": {"riskLeed": "x"}})
    with pytest.raises(InputError) as info:
        service.load([write(tmp_path / "s.yaml", team(), doc)])
    assert any("spec.pod.riskLeed" in p and "`riskLead`" in p for p in info.value.problems)


KEEL_KINDS = [k for k in kinds.CATALOG_KINDS if k.api_versions == kinds.KEEL]
BACKSTAGE_KINDS = ["System", "Component", "Resource", "API", "Domain"]
MINIMAL = {
    "System": {"owner": "team-a"},
    "Component": {"owner": "team-a", "type": "service", "lifecycle": "production"},
    "Resource": {"owner": "team-a", "type": "database"},
    "API": {"owner": "team-a", "type": "openapi", "lifecycle": "production", "definition": "x"},
    "Domain": {"owner": "team-a"},
}
keys = st.text(string.ascii_letters + "_", min_size=1, max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from([k.kind for k in KEEL_KINDS]), key=keys)
def test_any_unknown_key_of_a_keel_kind_is_refused_by_name(tmp_path, kind, key):
    model = next(k.spec for k in KEEL_KINDS if k.kind == kind)
    if key in model.model_fields:
        return
    path = write(tmp_path / "k.yaml", team(), entity(kind, "n", {"owner": "team-a", key: "x"}))
    with pytest.raises(InputError) as info:
        service.load([path])
    assert any(f"spec.{key}: unknown field (accepted: " in p for p in info.value.problems)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(BACKSTAGE_KINDS), key=keys)
def test_any_unknown_key_of_a_backstage_kind_is_kept_and_a_near_miss_warned(tmp_path, kind, key):
    spec = dict(MINIMAL[kind])
    model = next(k.spec for k in kinds.CATALOG_KINDS if k.kind == kind)
    if key in model.model_fields:
        return
    spec[key] = "x"
    loaded = service.load([write(tmp_path / "b.yaml", team(), entity(kind, "n", spec))])
    assert loaded.entities[1].spec[key] == "x"  # never dropped
    meant = [
        f for f in model.model_fields if f not in spec and f.lower() == key.lower()
    ]  # a near miss by case at least is always one
    if meant:
        assert any(f"spec.{key}:" in w and f"`{meant[0]}`" in w for w in loaded.warnings)
    for warning in loaded.warnings:
        assert f"spec.{key}:" in warning and "did you mean `" in warning
