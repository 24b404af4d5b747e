"""Evidence: one check's outcome (track, check, result, figures, inputs by digest, log).

The `evidence.add` event is the record: it carries the digest of the canonical evidence
document, which the `pipeline_evidence` row keeps whole for querying. Evidence belongs to a
system and to a run or a release; a release created from a run takes the run's evidence.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, field_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keel.audit.canonical import canonical_bytes, digest
from keel.audit.events import Change, append
from keel.errors import InputError
from keel.identity import Actor
from keel.models import Strict, line
from keel.pipeline.policy_kind import Track
from keel.pipeline.tables import EvidenceRow

MAX_LOG_LINES = 200
Result = Literal["pass", "fail", "error"]
RESULTS: tuple[str, ...] = get_args(Result)


class EvidenceIn(Strict):
    """An evidence document as a check, the SDK, the CLI or the API hands it in."""

    track: Track
    check: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    result: Result
    figures: dict[str, float] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    log: list[str] = Field(default=[], max_length=MAX_LOG_LINES)

    @field_validator("figures", "thresholds")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        for name, number in value.items():
            if not math.isfinite(number):
                raise ValueError(f"{name} is not a finite number")
        return value


@dataclass(frozen=True)
class Evidence:
    id: str
    system: str
    run_id: str | None
    release: str | None
    track: str
    check: str
    result: str
    digest: str
    record: dict[str, Any]
    actor: str
    created_at: str
    event_seq: int
    counts: bool | None = None  # toward promotion, where that was judged (see `judged`)
    note: str | None = None  # why it does not count

    def by_author(self, author: str) -> bool:
        """Recorded on a release directly by `author` (the release's), not by a run."""
        return self.run_id is None and self.actor == author

    def judged(self, author: str, separating: str | None) -> Evidence:
        """This evidence marked as counting or not for a release by `author`, where the
        policy `separating` (if any) separates duties: the author's own does not count."""
        if separating and self.by_author(author):
            note = (
                f"recorded by {author}, the release's author: under separation of duties "
                f"({separating}) the author's own evidence does not count"
            )
            return replace(self, counts=False, note=note)
        return replace(self, counts=True, note=None)

    @classmethod
    def from_row(cls, row: EvidenceRow) -> Evidence:
        return cls(
            row.id,
            row.system,
            row.run_id,
            row.release,
            row.track,
            row.check,
            row.result,
            row.digest,
            json.loads(row.record),
            row.actor,
            row.created_at,
            row.event_seq,
        )

    @property
    def figures(self) -> dict[str, float]:
        return self.record.get("figures", {})

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "run": self.run_id,
            "release": self.release,
            "track": self.track,
            "check": self.check,
            "result": self.result,
            "digest": self.digest,
            "figures": self.figures,
            "actor": self.actor,
            "createdAt": self.created_at,
            "event": self.event_seq,
            "counts": self.counts,
            "note": self.note,
        }


def parse_evidence(data: Any) -> EvidenceIn:
    try:
        return EvidenceIn.model_validate(data)
    except ValidationError as exc:
        raise first_problem(exc, "evidence") from None


def first_problem(exc: ValidationError, what: str, whole: str | None = None) -> InputError:
    """The first thing pydantic found wrong, as one line: `<what> <field path>: <reason>`
    (`whole` names the document itself when the problem is not in a field)."""
    return InputError(line(exc.errors()[0], what, whole or ""))


def record_evidence(
    session: Session,
    actor: Actor,
    system: str,
    data: Any,
    *,
    run_id: str | None = None,
    release: str | None = None,
) -> Evidence:
    """Record one check's outcome (already checked system/run/release keys) as an event."""
    document = parse_evidence(data).model_dump()
    record_digest = digest(document)
    evidence_id = uuid.uuid4().hex
    (event,) = append(
        session,
        actor,
        [
            Change(
                "pipeline.evidence.added",
                release or system,
                {
                    "id": evidence_id,
                    "system": system,
                    "run": run_id,
                    "release": release,
                    "track": document["track"],
                    "check": document["check"],
                    "result": document["result"],
                    "figures": document["figures"],
                    "digest": record_digest,
                },
            )
        ],
    )
    row = EvidenceRow(
        id=evidence_id,
        system=system,
        run_id=run_id,
        release=release,
        track=document["track"],
        check=document["check"],
        result=document["result"],
        digest=record_digest,
        record=canonical_bytes(document),
        actor=actor.id,
        created_at=event.time,
        event_seq=event.seq,
    )
    session.add(row)
    session.flush()
    return Evidence.from_row(row)


def evidence_for(
    session: Session, *, release: str | None = None, run_id: str | None = None
) -> list[Evidence]:
    """A release's evidence (its own, and its run's), oldest first."""
    clauses = []
    if release:
        clauses.append(EvidenceRow.release == release)
    if run_id:
        clauses.append(EvidenceRow.run_id == run_id)
    if not clauses:
        return []
    rows = session.scalars(select(EvidenceRow).where(or_(*clauses)).order_by(EvidenceRow.event_seq))
    return [Evidence.from_row(r) for r in rows]


def latest_evidence(session: Session, system: str, track: str, check: str) -> Evidence | None:
    """The newest `track.check` evidence of any run or release of `system` (a key)."""
    row = session.scalars(
        select(EvidenceRow)
        .where(EvidenceRow.system == system, EvidenceRow.track == track, EvidenceRow.check == check)
        .order_by(EvidenceRow.event_seq.desc())
        .limit(1)
    ).first()
    return None if row is None else Evidence.from_row(row)
