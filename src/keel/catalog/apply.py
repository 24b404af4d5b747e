"""Applying entities to the store: one transaction, idempotent, one event per real change.

An entity whose canonical body is unchanged is left alone and writes no event, so applying
the same files twice changes nothing. Created and updated entities get their relations
rewritten; the events of one apply share one op id. Then each created or updated entity
whose kind has a `check` is checked against the catalog as applied; a refusal raises
InputError (`FILE:LINE: spec.path: reason`), and the caller's transaction keeps nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from keel import audit
from keel.catalog import registry
from keel.catalog.entity import Entity
from keel.catalog.source import dotted
from keel.catalog.tables import EntityRow, RelationRow
from keel.errors import InputError
from keel.identity import Actor
from keel.store.bulk import insert_rows

CHUNK = 500  # keeps IN lists under SQLite's parameter limit


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    op: str | None = None

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated)


def apply_entities(session: Session, actor: Actor, entities: Iterable[Entity]) -> ApplyResult:
    """Create or update `entities` in the caller's write transaction."""
    entities = list(entities)
    existing: dict[str, tuple[int, str, str]] = {}
    keys = [e.key for e in entities]
    for start in range(0, len(keys), CHUNK):
        rows = session.execute(
            select(EntityRow.key, EntityRow.id, EntityRow.digest, EntityRow.body).where(
                EntityRow.key.in_(keys[start : start + CHUNK])
            )
        )
        existing.update({r.key: (r.id, r.digest, r.body) for r in rows})

    result = ApplyResult()
    created: list[tuple[Entity, str, str]] = []
    updated: list[tuple[Entity, str, str, int, str, str]] = []
    for entity in entities:
        body_bytes = audit.canonical_bytes(entity.body)
        body, digest = body_bytes.decode(), audit.digest(body_bytes)
        old = existing.get(entity.key)
        if old is None:
            created.append((entity, body, digest))
        elif old[1] != digest:
            updated.append((entity, body, digest, old[0], old[1], old[2]))
        else:
            result.unchanged += 1
    if not created and not updated:
        return result

    # Core statements on the tables: the ORM's per-row bookkeeping costs more than the insert.
    conn = session.connection()
    entities_t, relations_t = EntityRow.__table__, RelationRow.__table__
    ids: dict[str, int] = {}
    if created:
        rows = conn.execute(
            insert(entities_t).returning(
                entities_t.c.key, entities_t.c.id, sort_by_parameter_order=True
            ),
            [
                {
                    "key": e.key,
                    "kind": e.kind,
                    "namespace": e.ref.namespace,
                    "name": e.ref.name,
                    "body": body,
                    "digest": digest,
                }
                for e, body, digest in created
            ],
        )
        ids.update({r.key: r.id for r in rows})
    if updated:
        conn.execute(
            update(entities_t)
            .where(entities_t.c.id == bindparam("row_id"))
            .values(body=bindparam("new_body"), digest=bindparam("new_digest")),
            [
                {"row_id": row_id, "new_body": body, "new_digest": digest}
                for _, body, digest, row_id, _, _ in updated
            ],
        )
        row_ids = [u[3] for u in updated]
        for start in range(0, len(row_ids), CHUNK):
            conn.execute(
                delete(relations_t).where(
                    relations_t.c.entity_id.in_(row_ids[start : start + CHUNK])
                )
            )
        ids.update({e.key: row_id for e, _, _, row_id, _, _ in updated})

    relation_rows = [
        {"entity_id": ids[e.key], "source": r.source, "type": r.type, "target": r.target}
        for e in [c[0] for c in created] + [u[0] for u in updated]
        for r in e.relations
    ]
    if relation_rows:
        insert_rows(conn, relations_t, relation_rows)

    changes = [
        audit.Change("catalog.entity.created", e.key, _details(e, None, digest, None))
        for e, _, digest in created
    ] + [
        audit.Change("catalog.entity.updated", e.key, _details(e, old_digest, digest, old_body))
        for e, _, digest, _, old_digest, old_body in updated
    ]
    events = audit.append(session, actor, changes)
    check_kinds(session, [c[0] for c in created] + [u[0] for u in updated])
    result.created = [e.key for e, _, _ in created]
    result.updated = [u[0].key for u in updated]
    result.op = events[0].op
    return result


def check_kinds(session: Session, entities: list[Entity]) -> None:
    """Run each entity's kind check; every refusal as one `FILE:LINE: spec.path: reason`."""
    problems = []
    for entity in entities:
        kind_def = registry.lookup(entity.kind)
        if kind_def is None or kind_def.check is None:
            continue
        for path, reason in kind_def.check(session, entity):
            full = ("spec", *path)
            problems.append(f"{entity.where(full)}: {dotted(full)}: {reason}")
    if problems:
        raise InputError(problems)


def _details(
    entity: Entity, before: str | None, after: str, old_body: str | None
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kind": entity.kind,
        "namespace": entity.ref.namespace,
        "name": entity.ref.name,
        "before": before,
        "after": after,
        "source": entity.origin,
        "entity": entity.body,
    }
    if old_body is not None:
        details["changed"] = changed_fields(json.loads(old_body), entity.body)
    return details


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The dotted fields (two levels deep) whose values differ: `spec.owner`, `metadata.tags`."""
    out: list[str] = []
    for top in sorted(set(old) | set(new)):
        a, b = old.get(top), new.get(top)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(f"{top}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        elif a != b:
            out.append(top)
    return out
