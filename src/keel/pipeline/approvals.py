"""Approvals: a pod member approves a release in a role they hold, and the log records it.

Only the pod decides: an admin who is not in the pod cannot approve. Self-approval is refused
when a policy governing the system separates duties. Each approval says how its approver was
identified (`via`, from its signed event): a token or web session proves who acted, a local
name (`--as` on the embedded store) does not, and a policy may refuse to count those for
production (`separationOfDuties.provenIdentities`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit.events import Change, append, events_at, list_events
from keel.catalog import pods
from keel.catalog.queries import governing
from keel.errors import ConflictError, PermissionDenied, UsageError
from keel.identity import Actor
from keel.pipeline.policy import ApprovalFact, policies_for
from keel.pipeline.releases import Release, get_release
from keel.pipeline.tables import ApprovalRow

MAX_COMMENT = 2000


@dataclass(frozen=True)
class Approval:
    release: str
    role: str
    approver: str
    comment: str
    created_at: str
    event_seq: int
    via: str = "local"  # how the approver was identified: local (unproven), token, system

    @property
    def proven(self) -> bool:
        return self.via != "local"

    def fact(self) -> ApprovalFact:
        return ApprovalFact(self.role, self.approver, self.created_at, self.proven)

    def summary(self) -> dict:
        return {
            "release": self.release,
            "role": self.role,
            "approver": self.approver,
            "comment": self.comment,
            "createdAt": self.created_at,
            "event": self.event_seq,
            "identity": self.via,
            "proven": self.proven,
        }


def require_decider(session: Session, actor: Actor, release: Release, role: str, verb: str) -> None:
    """The actor holds `role` in the release's pod, and is not its author where a policy
    separates duties; `verb` says what they may not do ("approve it")."""
    pods.require_role(session, actor, release.system or "", role)
    if actor.id == release.created_by:
        strict = separating_policy(session, release.system or "")
        if strict:
            raise PermissionDenied(
                f"{actor.id} created {release.short_name} and may not {verb} ({strict} "
                "separates duties)"
            )


def separating_policy(session: Session, system: str) -> str | None:
    """The first policy governing `system` that separates duties (`approverIsNotAuthor`)."""
    for policy in policies_for(governing(session, system, "Policy")):
        if policy.spec.separationOfDuties.approverIsNotAuthor:
            return policy.key
    return None


REJECTED = "pipeline.release.rejected"  # keel.pipeline.reviews writes it


def _rejected_since(session: Session, release: Release, role: str, seq: int) -> bool:
    """Whether `role` was rejected on the release after event `seq`: its approvers may then
    approve again (a rejection stands until its role approves after it)."""
    return any(
        e.details.get("role") == role
        for e in list_events(session, subject=release.name, action=REJECTED, after=seq)
    )


def approve(session: Session, actor: Actor, ref: str, role: str, comment: str = "") -> Approval:
    """Approve in a pod role the actor holds; once per role and approver, again only after a
    rejection in that role."""
    release = get_release(session, ref)
    if len(comment) > MAX_COMMENT:
        raise UsageError(f"a comment is at most {MAX_COMMENT} characters")
    system = release.system or ""
    require_decider(session, actor, release, role, "approve it")
    row = session.get(ApprovalRow, (release.name, role, actor.id))
    if row is not None and not _rejected_since(session, release, role, row.event_seq):
        raise ConflictError(f"{actor.id} has already approved {release.short_name} as {role}")
    (event,) = append(
        session,
        actor,
        [
            Change(
                "pipeline.release.approved",
                release.name,
                {"release": release.name, "role": role, "comment": comment, "system": system},
            )
        ],
    )
    if row is None:
        row = ApprovalRow(release=release.name, role=role, approver=actor.id)
        session.add(row)
    # a re-approval (the role was rejected since this approver's last one) replaces it
    row.comment, row.created_at, row.event_seq = comment, event.time, event.seq
    session.flush()
    return _from_row(row, actor.via)


def approvals_of(session: Session, release: Release) -> list[Approval]:
    rows = list(
        session.scalars(
            select(ApprovalRow)
            .where(ApprovalRow.release == release.name)
            .order_by(ApprovalRow.event_seq)
        )
    )
    events = events_at(session, [r.event_seq for r in rows])
    return [_from_row(r, _identity(r, events.get(r.event_seq))) for r in rows]


def _identity(row: ApprovalRow, event) -> str:
    """How the approver was identified, read from the row's signed event. Only the event
    that records this very approval counts: a row pointed at another event (its seq edited
    in the store) or at none reads as unproven."""
    if (
        event is None
        or event.action != "pipeline.release.approved"
        or event.subject != row.release
        or event.actor.get("id") != row.approver
        or event.details.get("role") != row.role
    ):
        return "local"
    return event.actor.get("via", "local")


def _from_row(row: ApprovalRow, via: str) -> Approval:
    return Approval(
        row.release, row.role, row.approver, row.comment, row.created_at, row.event_seq, via
    )
