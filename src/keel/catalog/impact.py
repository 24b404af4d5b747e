"""`map impact`: what a failure of one node reaches, and where its own failures may come from.

Downstream is the blast radius: every node that depends on it, with owners, and the
business outcomes at risk. Upstream is where a failure may come from. The walk runs in the
store, one indexed query per level, so a query costs the size of its answer, not of the
catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.catalog import kinds, queries, registry, suggest
from keel.catalog.refs import parse_ref
from keel.catalog.tables import EntityRow, RelationRow
from keel.errors import NotFoundError, UsageError

Direction = Literal["down", "up", "both"]
CHUNK = 500
LINEAGE = sorted(kinds.LINEAGE_RELATIONS)


@dataclass(frozen=True, slots=True)
class Reached:
    key: str
    kind: str
    direction: str  # "down" or "up"
    depth: int
    via: str  # the node it was reached from
    owner: str | None
    exists: bool


@dataclass
class Impact:
    root: str
    kind: str
    owner: str | None
    direction: Direction
    reached: list[Reached] = field(default_factory=list)

    @property
    def outcomes_at_risk(self) -> list[str]:
        return [
            r.key for r in self.reached if r.direction == "down" and r.kind == "BusinessOutcome"
        ]

    @property
    def owners(self) -> list[str]:
        return sorted({r.owner for r in self.reached if r.owner})

    def as_dict(self) -> dict:
        return {
            "root": self.root,
            "kind": self.kind,
            "owner": self.owner,
            "direction": self.direction,
            "downstream": [_reached_dict(r) for r in self.reached if r.direction == "down"],
            "upstream": [_reached_dict(r) for r in self.reached if r.direction == "up"],
            "outcomes_at_risk": self.outcomes_at_risk,
            "owners": self.owners,
        }


def _reached_dict(r: Reached) -> dict:
    return {
        "ref": r.key,
        "kind": r.kind,
        "depth": r.depth,
        "via": r.via,
        "owner": r.owner,
        "exists": r.exists,
    }


def impact(session: Session, ref: str, direction: Direction = "down") -> Impact:
    if direction not in ("down", "up", "both"):
        raise UsageError(f"direction must be down, up or both, not {direction!r}")
    try:
        key = parse_ref(ref, default_kind="component").key if ":" in ref else _guess(session, ref)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    info = _info(session, [key])
    if key not in info:
        raise queries.missing_entity(session, key, ref)
    result = Impact(key, info[key][0], info[key][1], direction)
    for way in ("down", "up"):
        if direction in (way, "both"):
            result.reached.extend(_walk(session, key, way))
    return result


def _guess(session: Session, ref: str) -> str:
    """A reference without a kind: the one entity of that name, if it is unique."""
    parsed = parse_ref(ref, default_kind="component")  # the kind is ignored below
    suffix = f":{parsed.namespace}/{parsed.name}".lower()
    keys = (
        session.execute(
            select(EntityRow.key).where(EntityRow.key.endswith(suffix, autoescape=True))
        )
        .scalars()
        .all()
    )
    keys = [k for k in keys if k.endswith(suffix) and ":" not in k[: -len(suffix)]]
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise suggest.missing(
            parsed.key, session.scalars(select(EntityRow.key)), ref, any_kind=True
        )
    raise NotFoundError(f"{ref!r} is ambiguous: name its kind, one of {', '.join(sorted(keys))}")


def _walk(session: Session, root: str, way: str) -> list[Reached]:
    near, far = (
        (RelationRow.target, RelationRow.source)
        if way == "down"
        else (RelationRow.source, RelationRow.target)
    )
    seen = {root}
    frontier = [root]
    found: list[tuple[str, int, str]] = []
    depth = 0
    while frontier:
        depth += 1
        step: dict[str, str] = {}
        for start in range(0, len(frontier), CHUNK):
            rows = session.execute(
                select(near, far).where(
                    near.in_(frontier[start : start + CHUNK]),
                    RelationRow.type.in_(LINEAGE),
                )
            )
            for from_key, to_key in rows:
                if to_key not in seen:
                    seen.add(to_key)
                    step[to_key] = from_key
        found.extend((k, depth, v) for k, v in sorted(step.items()))
        frontier = sorted(step)
    info = _info(session, [k for k, _, _ in found])
    return [
        Reached(
            k,
            info[k][0] if k in info else _kind_of(k),
            way,
            d,
            via,
            info[k][1] if k in info else None,
            k in info,
        )
        for k, d, via in found
    ]


def _info(session: Session, keys: list[str]) -> dict[str, tuple[str, str | None]]:
    """kind and owner of each existing key."""
    out: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        kinds_by_key = {
            k: kind
            for k, kind in session.execute(
                select(EntityRow.key, EntityRow.kind).where(EntityRow.key.in_(chunk))
            )
        }
        owners = {
            k: owner
            for k, owner in session.execute(
                select(RelationRow.source, RelationRow.target).where(
                    RelationRow.source.in_(chunk), RelationRow.type == "ownedBy"
                )
            )
        }
        out.update({k: (kind, owners.get(k)) for k, kind in kinds_by_key.items()})
    return out


def _kind_of(key: str) -> str:
    kind_def = registry.lookup(key.split(":", 1)[0])
    return kind_def.kind if kind_def else key.split(":", 1)[0]


__all__ = ["Impact", "Reached", "impact"]
