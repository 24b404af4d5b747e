"""Kinds: one list of every package's kinds, and checks whose refusals read as the parser's."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from keel.audit import list_events
from keel.catalog import kinds, registry, service
from keel.catalog.queries import get_entity
from keel.errors import InputError, NotFoundError
from keel.pipeline.tables import ReleaseRow
from tests.catalog.helpers import entity, team, write

POLICY = {
    "owner": "team-a",
    "appliesTo": {"systems": ["s"]},
    "evidence": {"model": ["fairness"]},
    "thresholds": {
        "model.fairness.demographic_parity_difference": {"max": 0.1},
        "model.fairnes.equalized_odds_difference": {"max": 0.2},
    },
}


def test_every_kind_is_in_the_one_list_and_looked_up_by_it():
    names = [k.kind for k in registry.KINDS]
    assert len(names) == len(set(names))
    assert set(names) <= set(registry.known_kinds())
    assert {"System", "Model", "Policy"} <= set(names)
    assert registry.lookup("POLICY") is registry.lookup("policy") is not None


def test_a_policy_threshold_on_a_check_it_does_not_require_is_refused_at_its_line(
    sqlite_ws, admin, tmp_path
):
    path = write(
        tmp_path / "p.yaml",
        team(),
        entity("System", "s", {"owner": "team-a"}),
        {
            "apiVersion": "keel.dev/v1",
            "kind": "Policy",
            "metadata": {"name": "p"},
            "spec": POLICY,
        },
    )
    loaded = service.load([path]).entities
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "model.fairnes." in text
    )
    with pytest.raises(InputError) as caught, sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded)
    assert caught.value.problems == [
        f"{path}:{line}: spec.thresholds.model.fairnes.equalized_odds_difference: model.fairnes "
        "is not a check spec.evidence.model requires (it names fairness): add it there, "
        "or correct the name"
    ]
    with sqlite_ws.read() as session:  # the whole apply was refused: nothing kept
        with pytest.raises(NotFoundError):
            get_entity(session, "system:default/s")
        assert not list_events(session, action="catalog.entity.created")


def test_a_policy_whose_thresholds_are_all_required_applies(sqlite_ws, admin, tmp_path):
    spec = {**POLICY, "thresholds": {"model.fairness.demographic_parity_difference": {"max": 0.1}}}
    path = write(
        tmp_path / "p.yaml",
        team(),
        {"apiVersion": "keel.dev/v1", "kind": "Policy", "metadata": {"name": "p"}, "spec": spec},
    )
    with sqlite_ws.write(admin) as session:
        result = service.apply(session, admin, service.load([path]).entities)
    assert "policy:default/p" in result.created


class _RolloutSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: str


def _release_exists(session, entity):
    """A kind of another package consults that package's own tables: this release exists."""
    name = entity.spec["release"]
    if session.get(ReleaseRow, name) is None:
        yield ("release",), f"no release {name}"


def test_a_kind_check_consults_its_own_package_and_refuses_in_the_parsers_form(
    sqlite_ws, admin, tmp_path
):
    registry.register(kinds.KindDef("TestRollout", kinds.KEEL, _RolloutSpec, check=_release_exists))
    try:
        path = tmp_path / "r.yaml"
        path.write_text(
            "apiVersion: keel.dev/v1\nkind: TestRollout\nmetadata:\n  name: r\nspec:\n"
            "  release: model:default/m@9\n"
        )
        loaded = service.load([path]).entities
        with pytest.raises(InputError) as caught, sqlite_ws.write(admin) as session:
            service.apply(session, admin, loaded)
        assert caught.value.problems == [f"{path}:6: spec.release: no release model:default/m@9"]
    finally:
        registry.unregister("testrollout")
