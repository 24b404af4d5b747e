"""Lifecycle stages: design → build → validate → operate, one step at a time, on exit criteria.

Every system starts in `design`. `advance` moves it to the next stage only, and only when
the exit criteria of the stage it leaves hold; `operate` is the last stage, so its own
criteria (production, readiness at the policy's minimum) are checked on entering it, and
`show` keeps reporting them while the system operates. A refusal is an event too
(`stage.advance.refused`, with the unmet criteria); a move is `stage.advance`.

`criteria(stage, facts)` is pure: the facts are gathered first by `stage_facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from keel.audit.events import Change, append
from keel.catalog import pods
from keel.catalog.queries import system_key
from keel.errors import NoStanding, UsageError
from keel.identity import Actor
from keel.pipeline.evidence import evidence_for
from keel.pipeline.policy import EvidenceFact, NamedPolicy, evaluate
from keel.pipeline.promotion import missing as promotion_missing
from keel.pipeline.releases import get_release, list_releases
from keel.readiness.facts import SystemFacts, gather
from keel.readiness.scorecard import Scorecard, score, score_text
from keel.readiness.tables import StageRow

STAGES = ("design", "build", "validate", "operate")
TITLES = {
    "design": "Design & alignment",
    "build": "Build & integrate",
    "validate": "Validate & launch",
    "operate": "Operate & mature",
}
QUESTIONS = {
    "design": "Do we know what we're building and who owns it?",
    "build": "Can we build safely, traceably, and repeatably?",
    "validate": "Can we deploy incrementally and learn safely?",
    "operate": "Can we keep it improving without breaking trust?",
}
BUILD_TRACKS = ("data", "model", "feature")
MAP_QUESTIONS = ("owner", "lineage", "governance", "rollback")


@dataclass(frozen=True)
class Criterion:
    stage: str  # the stage whose criterion this is
    id: str
    text: str  # what must hold
    met: bool
    detail: str  # what holds, or what is missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "id": self.id,
            "text": self.text,
            "met": self.met,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        return f"{self.stage}.{self.id}: {self.detail}"


@dataclass
class StageFacts:
    readiness: SystemFacts
    scorecard: Scorecard
    build: list[tuple[str, list[str]]]  # newest release of each model -> what it lacks
    staging: list[tuple[str, list[str]]]  # release serving staging -> what it lacks there


@dataclass(frozen=True)
class Stage:
    system: str
    stage: str
    since: str | None
    changed_by: str | None

    @property
    def next(self) -> str | None:
        i = STAGES.index(self.stage)
        return STAGES[i + 1] if i + 1 < len(STAGES) else None


@dataclass
class Decision:
    system: str
    stage: str  # the stage the system was in
    to: str
    missing: list[Criterion] = field(default_factory=list)
    event_seq: int | None = None

    @property
    def allowed(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "from": self.stage,
            "to": self.to,
            "allowed": self.allowed,
            "missing": [str(c) for c in self.missing],
            "event": self.event_seq,
        }


# --- the criteria (pure) --------------------------------------------------------------------


def criteria(stage: str, facts: StageFacts) -> list[Criterion]:
    """The criteria of `stage`, evaluated on `facts`."""
    f = facts.readiness
    if stage == "design":
        gaps = [f"{x.subject}: {x.message}" for x in f.findings if x.check in MAP_QUESTIONS]
        roles = [g for g in f.pod.gaps if not g.startswith("changePlan.")]
        return [
            Criterion(
                stage,
                "map",
                "every node answers owner, lineage, governance and rollback (keel map validate)",
                not gaps,
                _listed(gaps, "every node answers the four questions"),
            ),
            Criterion(
                stage,
                "pod",
                "the pod names a known person in each of the five roles",
                not roles,
                _listed(roles, "all five roles are named"),
            ),
        ]
    if stage == "build":
        complete = [name for name, lacking in facts.build if not lacking]
        if complete:
            detail = f"{complete[0]} has all its Data, Model and Feature Ops evidence"
        elif not facts.build:
            detail = "no release of any model of the system yet (keel release create)"
        else:
            detail = "; ".join(
                f"{name} lacks {', '.join(lacking)}" for name, lacking in facts.build
            )
        return [
            Criterion(
                stage,
                "evidence",
                "the newest release of a model has the passing Data, Model and Feature Ops "
                "evidence its policy requires",
                bool(complete),
                detail,
            )
        ]
    if stage == "validate":
        complete = [name for name, lacking in facts.staging if not lacking]
        if complete:
            detail = f"{complete[0]} serves staging with its staging approvals complete"
        elif not facts.staging:
            detail = "nothing serves staging (keel release promote MODEL@N --to staging)"
        else:
            detail = "; ".join(
                f"{name} serves staging but lacks {', '.join(lacking)}"
                for name, lacking in facts.staging
            )
        return [
            Criterion(
                stage,
                "staging",
                "a release serves staging with its staging approvals complete",
                bool(complete),
                detail,
            )
        ]
    if stage == "operate":
        production = f.served.get("production", [])
        card = facts.scorecard
        minimum = card.minimum
        if minimum is None:
            ready_detail = f"readiness {score_text(card.score)}; no Policy sets a minimum"
        else:
            verdict = "at or above" if card.meets_minimum else "below"
            ready_detail = (
                f"readiness {score_text(card.score)} is {verdict} the minimum "
                f"{score_text(minimum.score)} "
                f"({minimum.policy})"
            )
        return [
            Criterion(
                stage,
                "production",
                "a release serves production",
                bool(production),
                f"production serves {', '.join(production)}"
                if production
                else "nothing serves production (keel release promote MODEL@N --to production)",
            ),
            Criterion(
                stage,
                "readiness",
                "readiness is at or above the policy's minimum (keel ready)",
                card.meets_minimum is not False,
                ready_detail,
            ),
        ]
    raise UsageError(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")


def exit_criteria(stage: str, facts: StageFacts) -> list[Criterion]:
    """What must hold to leave `stage`: its criteria, and operate's on the way into operate."""
    if stage == STAGES[-1]:
        return criteria(stage, facts)  # what must keep holding
    out = criteria(stage, facts)
    if STAGES[STAGES.index(stage) + 1] == "operate":
        out += criteria("operate", facts)
    return out


def _listed(gaps: list[str], fine: str) -> str:
    if not gaps:
        return fine
    return "; ".join(gaps[:3]) + (f" and {len(gaps) - 3} more" if len(gaps) > 3 else "")


# --- facts and the store --------------------------------------------------------------------


def stage_facts(session: Session, system: str, *, now: datetime | None = None) -> StageFacts:
    facts = gather(session, system)
    now = now or datetime.now(UTC)
    policies = [_build_policy(p) for p in facts.policies]
    newest: dict[str, Any] = {}
    for release in list_releases(session, facts.key):
        newest[release.model] = release
    build = []
    for release in newest.values():
        evidence = evidence_for(session, release=release.name, run_id=release.run)
        lacking = evaluate(
            policies,
            "staging",
            system=facts.key,
            author=release.created_by,
            evidence=[
                EvidenceFact(e.track, e.check, e.result, e.figures, e.created_at) for e in evidence
            ],
            approvals=[],
            now=now,
        )
        build.append((release.short_name, [m.requirement for m in lacking]))
    staging = []
    for name in facts.served.get("staging", []):
        release = get_release(session, name)
        lacking = promotion_missing(session, release, "staging", now=now)
        staging.append((name, [m.requirement for m in lacking]))
    return StageFacts(facts, score(facts), build, staging)


def _build_policy(policy: NamedPolicy) -> NamedPolicy:
    """The policy's Data, Model and Feature Ops requirements only."""
    spec = policy.spec.model_copy(
        update={
            "evidence": {t: c for t, c in policy.spec.evidence.items() if t in BUILD_TRACKS},
            "thresholds": {
                n: b
                for n, b in policy.spec.thresholds.items()
                if n.split(".", 1)[0] in BUILD_TRACKS
            },
            "approvals": {},
        }
    )
    return NamedPolicy(policy.key, spec)


def current(session: Session, key: str) -> Stage:
    """The stage of the system `key`; `design` until it first advances."""
    row = session.get(StageRow, key)
    if row is None:
        return Stage(key, STAGES[0], None, None)
    return Stage(key, row.stage, row.since, row.changed_by)


def show(session: Session, system: str) -> dict[str, Any]:
    """The system's stage and the criteria to leave it (to keep it, in operate)."""
    key = system_key(session, system)
    stage = current(session, key)
    found = exit_criteria(stage.stage, stage_facts(session, key))
    return {
        "system": key,
        "stage": stage.stage,
        "title": TITLES[stage.stage],
        "question": QUESTIONS[stage.stage],
        "since": stage.since,
        "changedBy": stage.changed_by,
        "next": stage.next,
        "criteria": [c.as_dict() for c in found],
        "met": all(c.met for c in found),
    }


def advance(session: Session, actor: Actor, system: str, to: str | None = None) -> Decision:
    """Move the system to its next stage, or record the refusal; the caller commits either way.

    Only a member of the system's pod may move it. `to`, when given, must be the next stage:
    stages are never skipped.
    """
    key = system_key(session, system)
    if not pods.roles_of(session, key, actor.id):
        raise NoStanding(f"{actor.id} is not in the pod of {key}")
    stage = current(session, key)
    if stage.next is None:
        raise UsageError(f"{key} is in {stage.stage}, the last stage")
    if to is not None and to != stage.next:
        if to not in STAGES:
            raise UsageError(f"unknown stage {to!r} (one of {', '.join(STAGES)})")
        raise UsageError(
            f"{key} is in {stage.stage}: its next stage is {stage.next}, not {to} "
            "(stages are never skipped)"
        )
    missing = [c for c in exit_criteria(stage.stage, stage_facts(session, key)) if not c.met]
    decision = Decision(key, stage.stage, stage.next, missing)
    details = {"system": key, "from": stage.stage, "to": stage.next}
    if missing:
        (event,) = append(
            session,
            actor,
            [
                Change(
                    "readiness.advance.refused",
                    key,
                    {**details, "missing": [str(c) for c in missing]},
                )
            ],
        )
        decision.event_seq = event.seq
        return decision
    (event,) = append(session, actor, [Change("readiness.stage.advanced", key, details)])
    row = session.get(StageRow, key)
    if row is None:
        row = StageRow(system=key)
        session.add(row)
    row.stage = stage.next
    row.since = event.time
    row.changed_by = actor.id
    row.event_seq = event.seq
    session.flush()
    decision.event_seq = event.seq
    return decision
