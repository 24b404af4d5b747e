"""Promotion: a release reaches staging or production only with what its policies demand.

`readiness` says what a release still lacks for an environment; `promote` either moves it
(the environment now serves it, the version it replaces stays as the rollback target, and a
production promotion re-signs the release statement with its evidence and approvals) or
records the refusal with the exact list of what is missing. `where` answers what served
where at any past time, from the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit.events import Change, append, list_events
from keel.catalog import pods, queries
from keel.catalog.queries import governing
from keel.errors import ConflictError, NoStanding, UsageError
from keel.identity import Actor
from keel.pipeline import reviews
from keel.pipeline.approvals import Approval, approvals_of
from keel.pipeline.environments import ENVIRONMENTS, check_environment
from keel.pipeline.evidence import Evidence, evidence_for
from keel.pipeline.policy import EvidenceFact, Missing, NamedPolicy, evaluate, policies_for
from keel.pipeline.releases import Release, get_release, reattest
from keel.pipeline.reviews import Rejection
from keel.pipeline.tables import PromotionRow


@dataclass
class Decision:
    release: str
    environment: str
    missing: list[Missing] = field(default_factory=list)
    previous: str | None = None
    event_seq: int | None = None

    @property
    def allowed(self) -> bool:
        return not self.missing

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        missing = [Missing(m["requirement"], m["reason"]) for m in data.get("missing", [])]
        return cls(
            data["release"], data["environment"], missing, data.get("previous"), data.get("event")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "environment": self.environment,
            "allowed": self.allowed,
            "missing": [{"requirement": m.requirement, "reason": m.reason} for m in self.missing],
            "previous": self.previous,
            "event": self.event_seq,
        }


@dataclass(frozen=True)
class Standing:
    """What a release has to show, gathered once: the policies of its system, and the
    evidence and approvals that count under them."""

    policies: list[NamedPolicy]
    evidence: list[Evidence]
    approvals: list[Approval]
    staged: bool  # it has been in staging
    rejections: list[Rejection]  # standing in the current review round


def standing(session: Session, release: Release) -> Standing:
    policies = policies_for(governing(session, release.system or "", "Policy"))
    return Standing(
        policies,
        _counted_evidence(session, release, policies),
        _counted_approvals(session, release),
        _was_in(session, release, "staging"),
        reviews.round_of(session, release).rejections,
    )


def missing(
    session: Session,
    release: Release,
    environment: str,
    *,
    now: datetime | None = None,
    known: Standing | None = None,
) -> list[Missing]:
    """What `release` lacks for `environment` under the policies of its system."""
    check_environment(environment)
    facts = known or standing(session, release)
    system = release.system or ""
    gaps = evaluate(
        facts.policies,
        environment,
        system=system,
        author=release.created_by,
        evidence=[
            EvidenceFact(e.track, e.check, e.result, e.figures, e.created_at)
            for e in facts.evidence
        ],
        approvals=[a.fact() for a in facts.approvals],
        now=now or datetime.now(UTC),
    )
    if environment == "production" and not facts.staged:
        gaps.insert(0, Missing("staging", f"{release.short_name} has not been in staging"))
    return [r.missing(release.short_name) for r in facts.rejections] + gaps


def _counted_evidence(session: Session, release: Release, policies) -> list[Evidence]:
    """The evidence that counts for a release: its run's, and what was recorded on it
    directly; under separation of duties, not what its author recorded on it directly (the
    author cannot overwrite the pipeline's findings with their own)."""
    evidence = evidence_for(session, release=release.name, run_id=release.run)
    return [e for e in _judged(evidence, release, policies) if e.counts]


def _judged(evidence: list[Evidence], release: Release, policies) -> list[Evidence]:
    separating = next(
        (p.key for p in policies if p.spec.separationOfDuties.approverIsNotAuthor), None
    )
    return [e.judged(release.created_by, separating) for e in evidence]


def _counted_approvals(session: Session, release: Release) -> list[Approval]:
    """Approvals whose approver still holds the role in the system's pod."""
    found = approvals_of(session, release)
    if not found:
        return []
    pod = pods.pod_report(session, release.system or "")
    holders = {(role, p.ref) for role, people in pod.roles.items() for p in people}
    return [a for a in found if (a.role, a.approver) in holders]


def status(session: Session, release: Release, *, known: Standing | None = None) -> dict[str, Any]:
    """A release's evidence, approvals, where it serves, and what it lacks per environment
    (`known`: its standing, when the caller has it already)."""
    evidence = evidence_for(session, release=release.name, run_id=release.run)
    serves = session.scalars(
        select(PromotionRow.environment).where(PromotionRow.release == release.name)
    )
    facts = known or standing(session, release)
    return {
        "evidence": [e.summary() for e in _judged(evidence, release, facts.policies)],
        "approvals": [a.summary() for a in approvals_of(session, release)],
        "review": reviews.round_of(session, release).summary(),
        "serves": sorted(serves),
        "missing": {
            env: [str(m) for m in missing(session, release, env, known=facts)]
            for env in ENVIRONMENTS
        },
    }


def promote(session: Session, actor: Actor, signer, ref: str, environment: str) -> Decision:
    """Promote, or record the refusal; the caller commits either way."""
    check_environment(environment)
    release = get_release(session, ref)
    system = release.system or ""
    if not pods.roles_of(session, system, actor.id):
        raise NoStanding(f"{actor.id} is not in the pod of {system}")
    current = session.get(PromotionRow, (release.model, environment))
    if current is not None and current.release == release.name:
        raise ConflictError(f"{release.short_name} already serves {environment}")
    if current is not None and _version(current.release) > release.version:
        raise ConflictError(
            f"{release.short_name} is superseded: {current.release.split('/', 1)[1]} serves "
            f"{environment}"
        )
    facts = standing(session, release)
    decision = Decision(
        release.name, environment, missing(session, release, environment, known=facts)
    )
    if not decision.allowed:
        (event,) = append(
            session,
            actor,
            [
                Change(
                    "pipeline.promotion.refused",
                    release.name,
                    {
                        "release": release.name,
                        "environment": environment,
                        "system": system,
                        "missing": [str(m) for m in decision.missing],
                    },
                )
            ],
        )
        decision.event_seq = event.seq
        return decision
    decision.previous = current.release if current else None
    details = {
        "release": release.name,
        "model": release.model,
        "environment": environment,
        "system": system,
        "previous": decision.previous,
    }
    if environment == "production":
        evidence = facts.evidence
        reattest(
            session,
            actor,
            signer,
            release,
            evidence=[
                {
                    "track": e.track,
                    "check": e.check,
                    "result": e.result,
                    "digest": e.digest,
                    "event": e.event_seq,
                }
                for e in evidence
            ],
            approvals=[
                {
                    "approver": a.approver,
                    "role": a.role,
                    "identity": a.via,
                    "time": a.created_at,
                    **({"comment": a.comment} if a.comment else {}),
                    "evidence": [e.digest for e in evidence if e.event_seq < a.event_seq],
                    "event": a.event_seq,
                }
                for a in facts.approvals
            ],
            action="pipeline.release.attested",
            details={"environment": environment},
        )
    (event,) = append(session, actor, [Change("pipeline.release.promoted", release.name, details)])
    if current is None:
        current = PromotionRow(model=release.model, environment=environment)
        session.add(current)
    current.system = system
    current.release = release.name
    current.previous = decision.previous
    current.promoted_at = event.time
    current.promoted_by = actor.id
    current.event_seq = event.seq
    session.flush()
    decision.event_seq = event.seq
    return decision


def where(session: Session, system: str, *, at: str | None = None) -> list[dict[str, Any]]:
    """What each environment served for each model of `system` at `at` (default now)."""
    system_key = queries.system_key(session, system)
    if at is None:
        rows = session.scalars(
            select(PromotionRow)
            .where(PromotionRow.system == system_key)
            .order_by(PromotionRow.model, PromotionRow.environment)
        )
        return [
            {
                "model": r.model,
                "environment": r.environment,
                "release": r.release,
                "since": r.promoted_at,
                "previous": r.previous,
            }
            for r in rows
        ]
    at = _instant(at)
    served: dict[tuple[str, str], dict[str, Any]] = {}
    for event in list_events(session, action="pipeline.release.promoted"):
        if event.details.get("system") != system_key or event.time > at:
            continue
        key = (event.details["model"], event.details["environment"])
        served[key] = {
            "model": key[0],
            "environment": key[1],
            "release": event.details["release"],
            "since": event.time,
            "previous": event.details.get("previous"),
        }
    return [served[k] for k in sorted(served)]


def _instant(text: str) -> str:
    """An ISO 8601 time as events write theirs (UTC, to the microsecond), so they compare."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        utc = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(f"{text!r} is not an ISO 8601 time") from None
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _was_in(session: Session, release: Release, environment: str) -> bool:
    return any(
        e.details.get("environment") == environment
        for e in list_events(session, subject=release.name, action="pipeline.release.promoted")
    )


def _version(name: str) -> int:
    return int(name.rpartition("@")[2])
