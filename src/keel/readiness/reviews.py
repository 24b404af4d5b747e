"""Reviews of a system (privacy, legal, security): who may clear each, and the record.

A review is an approval of the System, not of a release. Only the person the System names
in `spec.reviewers.<kind>` may record it; with nobody named there, the pod's riskLead may.
Anyone else is refused (the caller logs the refusal, see `keel.pipeline.refusals`). Each
review is a `system.review` event; the newest of each kind is the one that counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit.events import Change, append
from keel.catalog.graph import CatalogGraph
from keel.catalog.kinds import REVIEW_KINDS
from keel.catalog.queries import get_entity, system_key
from keel.catalog.refs import system_key_of
from keel.errors import NoStanding, PermissionDenied, UsageError
from keel.identity import Actor
from keel.readiness.tables import ReviewRow

MAX_COMMENT = 2000


@dataclass(frozen=True)
class Review:
    system: str
    kind: str
    reviewer: str
    comment: str
    created_at: str
    event_seq: int

    def summary(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "kind": self.kind,
            "reviewer": self.reviewer,
            "comment": self.comment,
            "createdAt": self.created_at,
            "event": self.event_seq,
        }


def reviewers_from(relations: list[tuple[str, str]], kind: str) -> tuple[list[str], str]:
    """Who may clear `kind`, and from which field: the named reviewer, else the riskLead."""
    named = [target for rel, target in relations if rel == f"reviewer.{kind}"]
    if named:
        return named, f"spec.reviewers.{kind}"
    return [target for rel, target in relations if rel == "pod.riskLead"], "spec.pod.riskLead"


def reviewers_in(graph: CatalogGraph, system: str, kind: str) -> tuple[list[str], str]:
    """`reviewers_from` over a loaded catalog graph."""
    return reviewers_from([(r.type, r.target) for r in graph.by_source.get(system, ())], kind)


def review(session: Session, actor: Actor, system: str, kind: str, comment: str = "") -> Review:
    """Record `actor`'s `kind` review of `system`; PermissionDenied for anyone not named."""
    if kind not in REVIEW_KINDS:
        raise UsageError(f"a review is one of {', '.join(REVIEW_KINDS)}, not {kind!r}")
    if len(comment) > MAX_COMMENT:
        raise UsageError(f"a comment is at most {MAX_COMMENT} characters")
    key = system_key(session, system)
    relations = [(r["type"], r["target"]) for r in get_entity(session, key)["relations"]]
    allowed, field = reviewers_from(relations, kind)
    if actor.id not in allowed:
        who = ", ".join(allowed) or f"nobody (name one in spec.reviewers.{kind})"
        standing = any(t == actor.id for r, t in relations if r.startswith(("pod.", "reviewer.")))
        raise (PermissionDenied if standing else NoStanding)(
            f"{actor.id} may not clear the {kind} review of {key}: {field} names {who}"
        )
    (event,) = append(
        session,
        actor,
        [
            Change(
                "readiness.system.reviewed", key, {"system": key, "kind": kind, "comment": comment}
            )
        ],
    )
    row = ReviewRow(
        id=uuid.uuid4().hex,
        system=key,
        kind=kind,
        reviewer=actor.id,
        comment=comment,
        created_at=event.time,
        event_seq=event.seq,
    )
    session.add(row)
    session.flush()
    return _from_row(row)


def reviews_of(session: Session, system_key: str) -> list[Review]:
    """Every review of the system, oldest first."""
    rows = session.scalars(
        select(ReviewRow).where(ReviewRow.system == system_key).order_by(ReviewRow.event_seq)
    )
    return [_from_row(r) for r in rows]


def latest_reviews(session: Session, system_key: str) -> dict[str, Review]:
    """The newest review of each kind the system has had."""
    return {r.kind: r for r in reviews_of(session, system_key)}


def _from_row(row: ReviewRow) -> Review:
    return Review(row.system, row.kind, row.reviewer, row.comment, row.created_at, row.event_seq)


def subject_of(system: str) -> str:
    """The key a user-typed system reference names, for logging a refusal (as typed if bad)."""
    try:
        return system_key_of(system)
    except ValueError:
        return system
