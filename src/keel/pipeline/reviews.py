"""A release's review round: an approval request that names who must decide, and rejections.

`request_approval` records `pipeline.approval.requested` with the roles the system's policies
still need approved and the pod members who hold them (the author left out where duties are
separated); notification subscriptions on `approval-requested` deliver it with a link.
`reject` records `pipeline.release.rejected` with a reason, by a pod member in a role they
hold (never the author where duties are separated). A rejection stands, and blocks every
promotion of the release, until someone holding its role approves after it: a new request
asks that role again, but does not clear the rejection by itself, or the author could void
a risk lead's rejection with one click. Both live in the audit log alone, so the round is
read back from signed events (`round_of`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from keel.audit.events import Change, Event, append, list_events
from keel.catalog import pods
from keel.catalog.queries import governing
from keel.errors import ConflictError, NoStanding, UsageError
from keel.identity import Actor
from keel.pipeline.approvals import (
    MAX_COMMENT,
    REJECTED,
    approvals_of,
    require_decider,
    separating_policy,
)
from keel.pipeline.policy import Missing, policies_for
from keel.pipeline.releases import Release, get_release

REQUESTED = "pipeline.approval.requested"


@dataclass(frozen=True)
class Rejection:
    release: str
    role: str
    rejecter: str
    via: str
    reason: str
    created_at: str
    event_seq: int

    def missing(self, short_name: str) -> Missing:
        return Missing(
            "rejection",
            f"{self.rejecter} rejected {short_name} as {self.role} ({self.created_at[:10]}): "
            f"{self.reason} - it stands until a {self.role} approves again "
            "(keel release request-approval asks them)",
        )

    def summary(self) -> dict:
        return {
            "release": self.release,
            "role": self.role,
            "rejecter": self.rejecter,
            "identity": self.via,
            "reason": self.reason,
            "createdAt": self.created_at,
            "event": self.event_seq,
        }


@dataclass(frozen=True)
class Round:
    """The current review round: its newest request (None before the first) and the
    rejections that stand."""

    requested: Event | None
    rejections: list[Rejection]

    def summary(self) -> dict:
        request = self.requested
        return {
            "requested": None
            if request is None
            else {
                "by": request.actor.get("id"),
                "at": request.time,
                "roles": request.details.get("roles", []),
                "recipients": request.details.get("recipients", []),
                "note": request.details.get("note", ""),
                "event": request.seq,
            },
            "rejections": [r.summary() for r in self.rejections],
        }


def round_of(session: Session, release: Release) -> Round:
    """The newest request, and the rejections that stand: each until an approval in its role
    is made after it."""
    requests = list_events(session, subject=release.name, action=REQUESTED, limit=1)
    rejected = list_events(session, subject=release.name, action=REJECTED)
    approved: dict[str, int] = {}  # role -> seq of its newest approval
    for approval in approvals_of(session, release):
        approved[approval.role] = max(approved.get(approval.role, 0), approval.event_seq)
    return Round(
        requests[-1] if requests else None,
        [
            Rejection(
                release.name,
                e.details.get("role", ""),
                e.actor.get("id", ""),
                e.actor.get("via", "local"),
                e.details.get("reason", ""),
                e.time,
                e.seq,
            )
            for e in rejected
            if approved.get(e.details.get("role", ""), 0) < e.seq
        ],
    )


# what changes a release's standing: a form shown before one of these is stale. Refusals
# are not among them, or anyone in the pod could keep everyone else's forms out of date.
DECIDING = (
    "pipeline.release.created",
    "pipeline.evidence.added",
    "pipeline.release.approved",
    REQUESTED,
    REJECTED,
    "pipeline.release.promoted",
    "pipeline.release.attested",
)


def state_of(session: Session, release: Release, viewer: str) -> int:
    """The state a decision form is shown in, for `viewer` (an actor id): the seq of the
    newest decision about the release, or of the viewer's own newest event about it (a
    refusal among them), whichever is later; 0 if none. A form posted from an older state is
    stale: a double click (its first post moved the state, if only by a refusal), or a page
    left open while someone else decided. Someone else's refusal moves no one's state.
    Checked again inside the decision's write transaction, which holds the writer lock, so
    two posts of one form at once record one."""
    newest = [
        events[-1].seq
        for action in DECIDING
        if (events := list_events(session, subject=release.name, action=action, limit=1))
    ]
    own = list_events(session, subject=release.name, actor=viewer, limit=1)
    return max([*newest, *(e.seq for e in own)], default=0)


def wanted_roles(session: Session, release: Release) -> list[str]:
    """The roles the system's policies ask to approve (any environment) that no approval of
    the release holds yet, or whose rejection stands, in policy order."""
    approved = {a.role for a in approvals_of(session, release)}
    approved -= {r.role for r in round_of(session, release).rejections}
    policies = policies_for(governing(session, release.system or "", "Policy"))
    roles = [r for p in policies for env_roles in p.spec.approvals.values() for r in env_roles]
    return [r for r in dict.fromkeys(roles) if r not in approved]


def request_approval(session: Session, actor: Actor, ref: str, note: str = "") -> Round:
    """Open a review round: who must decide, by role, from the pod; refused outside the pod."""
    release = get_release(session, ref)
    if len(note) > MAX_COMMENT:
        raise UsageError(f"a note is at most {MAX_COMMENT} characters")
    system = release.system or ""
    if not pods.roles_of(session, system, actor.id):
        raise NoStanding(f"{actor.id} is not in the pod of {system}")
    roles = wanted_roles(session, release)
    if not roles:
        raise ConflictError(
            f"{release.short_name} has every approval its policies ask for; nothing to request"
        )
    pod = pods.pod_report(session, system)
    separated = separating_policy(session, system) is not None
    recipients = [
        {"user": person.ref, "role": role}
        for role in roles
        for person in pod.roles.get(role, [])
        if not (separated and person.ref == release.created_by)
    ]
    append(
        session,
        actor,
        [
            Change(
                REQUESTED,
                release.name,
                {
                    "release": release.name,
                    "system": system,
                    "roles": roles,
                    "recipients": recipients,
                    "note": note,
                },
            )
        ],
    )
    return round_of(session, release)


def reject(session: Session, actor: Actor, ref: str, role: str, reason: str) -> Rejection:
    """Reject a release in a pod role the actor holds; it blocks promotion until that role
    approves again."""
    release = get_release(session, ref)
    reason = reason.strip()
    if not reason:
        raise UsageError("a rejection needs a reason (--reason)")
    if len(reason) > MAX_COMMENT:
        raise UsageError(f"a reason is at most {MAX_COMMENT} characters")
    system = release.system or ""
    require_decider(session, actor, release, role, "decide on it")
    current = round_of(session, release)
    if any(r.rejecter == actor.id and r.role == role for r in current.rejections):
        raise ConflictError(
            f"{actor.id} has already rejected {release.short_name} as {role}; the rejection "
            "stands until that role approves again"
        )
    (event,) = append(
        session,
        actor,
        [
            Change(
                REJECTED,
                release.name,
                {"release": release.name, "role": role, "reason": reason, "system": system},
            )
        ],
    )
    return Rejection(release.name, role, actor.id, actor.via, reason, event.time, event.seq)
