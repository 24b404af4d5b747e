"""Applying and exporting, on both backends: atomic, idempotent, one event per real change."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from keel import audit
from keel.catalog import service
from keel.catalog.export import export_yaml
from keel.catalog.tables import EntityRow, RelationRow
from keel.errors import InputError
from tests.catalog.helpers import complete_system, entity, write
from tests.conftest import EXAMPLES


def apply_files(ws, actor, *paths):
    loaded = service.load(paths)
    with ws.write(actor) as session:
        return service.apply(session, actor, loaded.entities)


def counts(ws):
    with ws.read() as session:
        return (
            session.scalar(select(func.count()).select_from(EntityRow)),
            session.scalar(select(func.count()).select_from(RelationRow)),
            len(audit.list_events(session)),
        )


def test_apply_creates_and_records_one_op(ws, admin, tmp_path):
    result = apply_files(ws, admin, write(tmp_path / "c.yaml", *complete_system()))
    assert len(result.created) == 9 and result.unchanged == 0
    with ws.read() as session:
        events = audit.list_events(session, op=result.op)
    assert len(events) == 9
    assert {e.action for e in events} == {"catalog.entity.created"}
    model = next(e for e in events if e.subject == "model:default/model")
    assert model.details["before"] is None
    assert model.details["after"] == audit.digest(model.details["entity"])
    assert model.details["source"].endswith(".yaml:" + model.details["source"].rsplit(":", 1)[1])
    assert model.actor == {"id": "user:default/alice", "via": "local"}


def test_second_apply_changes_nothing_and_writes_no_event(ws, admin, tmp_path):
    path = write(tmp_path / "c.yaml", *complete_system())
    apply_files(ws, admin, path)
    before = counts(ws)
    again = apply_files(ws, admin, path)
    assert again.changed == 0 and again.unchanged == 9 and again.op is None
    assert counts(ws) == before


def test_update_records_before_after_and_changed_fields(ws, admin, tmp_path):
    docs = complete_system()
    apply_files(ws, admin, write(tmp_path / "c.yaml", *docs))
    model = next(d for d in docs if d["metadata"]["name"] == "model")
    model["spec"]["owner"] = "user:pat"
    model["spec"]["dependsOn"] = ["datasource:src"]
    result = apply_files(ws, admin, write(tmp_path / "c.yaml", *docs))
    assert result.updated == ["model:default/model"] and not result.created
    with ws.read() as session:
        (event,) = audit.list_events(session, op=result.op)
        rels = {
            tuple(r)
            for r in session.execute(
                select(RelationRow.type, RelationRow.target).where(
                    RelationRow.source == "model:default/model"
                )
            )
        }
    assert event.action == "catalog.entity.updated"
    assert event.details["before"] != event.details["after"]
    assert event.details["changed"] == ["spec.dependsOn", "spec.owner"]
    assert ("ownedBy", "user:default/pat") in rels and (
        "dependsOn",
        "datasource:default/src",
    ) in rels
    assert ("dependsOn", "featureset:default/feat") not in rels


def test_a_bad_file_applies_nothing(ws, admin, tmp_path):
    write(tmp_path / "a-good.yaml", *complete_system())
    write(tmp_path / "b-bad.yaml", entity("Model", "broken", {"owner": 3}))
    before = counts(ws)
    with pytest.raises(InputError, match=r"b-bad\.yaml"):
        apply_files(ws, admin, tmp_path)
    assert counts(ws) == before


def test_a_failure_inside_the_transaction_rolls_everything_back(ws, admin, tmp_path):
    loaded = service.load([write(tmp_path / "c.yaml", *complete_system())])
    before = counts(ws)
    with pytest.raises(RuntimeError), ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        raise RuntimeError("crash after the writes, before the commit")
    assert counts(ws) == before


def test_export_reapplies_to_the_same_state_byte_for_byte(ws, admin, tmp_path):
    apply_files(ws, admin, EXAMPLES / "demo" / "catalog")
    with ws.read() as session:
        first = export_yaml(session)
    out = tmp_path / "export.yaml"
    out.write_text(first)
    assert apply_files(ws, admin, out).changed == 0  # same state
    with ws.read() as session:
        assert export_yaml(session) == first  # deterministic


def test_export_into_a_fresh_workspace_reproduces_it(ws, admin, tmp_path, sqlite_ws):
    apply_files(ws, admin, EXAMPLES / "demo" / "catalog")
    with ws.read() as session:
        text = export_yaml(session)
        bodies = {k: v for k, v in session.execute(select(EntityRow.key, EntityRow.body))}
    out = tmp_path / "export.yaml"
    out.write_text(text)
    apply_files(sqlite_ws, admin, out)
    with sqlite_ws.read() as session:
        assert export_yaml(session) == text
        copied = {k: v for k, v in session.execute(select(EntityRow.key, EntityRow.body))}
    assert {k: json.loads(v) for k, v in copied.items()} == {
        k: json.loads(v) for k, v in bodies.items()
    }
