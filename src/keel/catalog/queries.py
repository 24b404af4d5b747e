"""Reading the catalog: listing and fetching entities with the facts pages and the API show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from keel.catalog import registry, suggest
from keel.catalog.apply import CHUNK
from keel.catalog.refs import parse_ref, system_key_of
from keel.catalog.tables import EntityRow, RelationRow
from keel.errors import NotFoundError


@dataclass
class EntitySummary:
    ref: str
    kind: str
    namespace: str
    name: str
    title: str
    owner: str | None
    system: str | None


@dataclass
class Page:
    total: int
    items: list[EntitySummary]


def list_entities(
    session: Session,
    *,
    kind: str | None = None,
    system: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Entities sorted by kind and name, filtered by kind, system (a key) and a search text."""
    query = select(
        EntityRow.key, EntityRow.kind, EntityRow.namespace, EntityRow.name, EntityRow.body
    )
    if kind:
        kind_def = registry.lookup(kind)
        query = query.where(EntityRow.kind == (kind_def.kind if kind_def else kind))
    if system:
        members = select(RelationRow.source).where(
            RelationRow.type == "partOf", RelationRow.target == system
        )
        query = query.where(or_(EntityRow.key.in_(members), EntityRow.key == system))
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(func.lower(EntityRow.body).like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(EntityRow.kind, EntityRow.namespace, EntityRow.name)
        .limit(limit)
        .offset(offset)
    ).all()
    facts = _relations(session, [r.key for r in rows], ("ownedBy", "partOf"))
    items = [
        EntitySummary(
            r.key,
            r.kind,
            r.namespace,
            r.name,
            json.loads(r.body)["metadata"].get("title") or r.name,
            facts.get((r.key, "ownedBy")),
            facts.get((r.key, "partOf")) if r.kind != "System" else None,
        )
        for r in rows
    ]
    return Page(total, items)


def kind_of(session: Session, key: str) -> str | None:
    """The kind of the entity with this normalised key, or None: one indexed lookup."""
    return session.scalar(select(EntityRow.kind).where(EntityRow.key == key))


def missing_entity(session: Session, key: str, text: str | None = None) -> NotFoundError:
    """The error for a missing `key`, naming the entity one edit away if there is one."""
    kind = key.partition(":")[0]
    keys = session.scalars(select(EntityRow.key).where(EntityRow.key.startswith(f"{kind}:")))
    return suggest.missing(key, keys, text)


def system_key(session: Session, system: str) -> str:
    """The key of the existing System a user-typed reference names (`credit-decisioning`,
    `system:team/x`). Anything else, malformed, missing or of another kind, is one mistake
    with one status: NotFoundError (exit 2, HTTP 404)."""
    try:
        key = system_key_of(system)
    except ValueError as exc:
        raise NotFoundError(f"{system!r}: {exc}") from None
    kind = kind_of(session, key)
    if kind is None:
        raise missing_entity(session, key)
    if kind != "System":
        raise NotFoundError(f"{system!r} is a {kind}, not a System")
    return key


def get_entity(session: Session, ref: str) -> dict[str, Any]:
    """One entity with its relations both ways; raises NotFoundError."""
    try:
        key = parse_ref(ref).key
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    row = session.execute(select(EntityRow).where(EntityRow.key == key)).scalar()
    if row is None:
        raise missing_entity(session, key)
    outgoing = session.execute(
        select(RelationRow.type, RelationRow.target)
        .where(RelationRow.source == key)
        .order_by(RelationRow.type, RelationRow.target)
    ).all()
    incoming = session.execute(
        select(RelationRow.type, RelationRow.source)
        .where(RelationRow.target == key)
        .order_by(RelationRow.type, RelationRow.source)
    ).all()
    return {
        "ref": key,
        "entity": json.loads(row.body),
        "digest": row.digest,
        "relations": [{"type": t, "target": target} for t, target in outgoing],
        "referencedBy": [{"type": t, "source": source} for t, source in incoming],
    }


def _relations(
    session: Session, keys: list[str], types: tuple[str, ...]
) -> dict[tuple[str, str], str]:
    if not keys:
        return {}
    rows = session.execute(
        select(RelationRow.source, RelationRow.type, RelationRow.target).where(
            RelationRow.source.in_(keys), RelationRow.type.in_(types)
        )
    )
    out: dict[tuple[str, str], str] = {}
    for source, rel_type, target in rows:
        if rel_type == "partOf" and not target.startswith("system:"):
            continue
        out.setdefault((source, rel_type), target)
    return out


@dataclass(frozen=True)
class Governing:
    """What decides which entities of a kind govern a system, read in one place: the system's
    spec (None when it is not in the catalog), the spec of every entity of the kind, and those
    of them whose references name the system (`governs` relations)."""

    system: str
    system_spec: dict[str, Any] | None
    specs: dict[str, dict[str, Any]]
    naming: frozenset[str]


def governing(session: Session, system_key: str, kind: str) -> Governing:
    """The facts for `kind` (e.g. Policy) entities that may govern `system_key`."""
    body = session.scalar(select(EntityRow.body).where(EntityRow.key == system_key))
    rows = session.execute(select(EntityRow.key, EntityRow.body).where(EntityRow.kind == kind))
    naming = session.scalars(
        select(RelationRow.source).where(
            RelationRow.type == "governs", RelationRow.target == system_key
        )
    )
    return Governing(
        system=system_key,
        system_spec=json.loads(body).get("spec", {}) if body is not None else None,
        specs={key: json.loads(b)["spec"] for key, b in rows},
        naming=frozenset(naming),
    )


def display_name(name: str, body: dict[str, Any]) -> str:
    """What people call an entity: its title, a user's or group's profile display name, or
    its name."""
    profile = (body.get("spec") or {}).get("profile") or {}
    return (
        body.get("metadata", {}).get("title")
        or (profile.get("displayName") if isinstance(profile, dict) else None)
        or name
    )


def display_names(session: Session, keys: Any) -> dict[str, str]:
    """`display_name` of each existing entity among `keys` (normalised keys); the others
    are left out, so a missing key means the entity does not exist."""
    wanted = sorted({k for k in keys if k})
    out: dict[str, str] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(EntityRow.key, EntityRow.name, EntityRow.body).where(
                EntityRow.key.in_(wanted[i : i + CHUNK])
            )
        )
        out.update({r.key: display_name(r.name, json.loads(r.body)) for r in rows})
    return out
