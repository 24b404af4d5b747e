"""Delivery pods (practice 2): the five roles of a System, their gaps, and role checks.

`spec.pod` names people per role, `spec.changePlan` how the system lands with its users.
Approvals in later packages call `require_role`, which looks at the pod only: being an
admin never stands in for a pod role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keel.catalog.graph import CatalogGraph, load_graph
from keel.catalog.kinds import POD_ROLES
from keel.catalog.tables import RelationRow
from keel.errors import NoStanding, NotFoundError, PermissionDenied
from keel.identity import Actor

CHANGE_PLAN = ("training", "communication", "workflowChanges")


@dataclass
class Person:
    ref: str
    name: str | None  # display name when the user exists
    exists: bool


@dataclass
class PodReport:
    system: str
    title: str
    roles: dict[str, list[Person]]
    change_plan: dict[str, str | None]
    gaps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "system": self.system,
            "title": self.title,
            "roles": {role: [p.__dict__ for p in people] for role, people in self.roles.items()},
            "changePlan": self.change_plan,
            "gaps": self.gaps,
            "complete": not self.gaps,
        }


def pod_report(session: Session, system: str, *, graph: CatalogGraph | None = None) -> PodReport:
    """The pod of `system`; pass `graph` when the caller has loaded the catalog already."""
    graph = graph or load_graph(session)
    node = graph.resolve_system(system)
    roles: dict[str, list[Person]] = {}
    gaps: list[str] = []
    for role in POD_ROLES:
        people = []
        for key in graph.targets(node.key, f"pod.{role}"):
            user = graph.nodes.get(key)
            profile = (user.spec.get("profile") or {}) if user else {}
            people.append(
                Person(
                    key,
                    profile.get("displayName") or (user.name if user else None),
                    user is not None,
                )
            )
            if user is None:
                gaps.append(f"{role}: {key} is not a known user")
        if not people:
            gaps.append(f"{role}: nobody named")
        roles[role] = people
    plan = node.spec.get("changePlan") or {}
    change_plan = {k: plan.get(k) for k in CHANGE_PLAN}
    gaps.extend(f"changePlan.{k}: not written" for k, v in change_plan.items() if not v)
    return PodReport(node.key, node.title, roles, change_plan, gaps)


def roles_of(session: Session, system: str, user: str) -> set[str]:
    """The pod roles `user` (a normalised user key) holds in `system`."""
    report = pod_report(session, system)
    return {role for role, people in report.roles.items() if any(p.ref == user for p in people)}


def require_standing(session: Session, actor: Actor, system: str) -> None:
    """Raise NoStanding unless the actor is named in the system's pod or as one of its
    reviewers: the check a read transaction makes before a write transaction is opened for a
    caller who could never act on the system (`keel.pipeline.refusals.logged`). One indexed
    query of the relations the system's spec declares; it never refuses anyone the checks
    inside the write transaction would let act."""
    found = session.execute(
        select(RelationRow.type).where(
            RelationRow.source == system,
            RelationRow.target == actor.id,
            or_(RelationRow.type.startswith("pod."), RelationRow.type.startswith("reviewer.")),
        )
    ).first()
    if found is None:
        raise NoStanding(f"{actor.id} is not in the pod of {system}")


def require_role(session: Session, actor: Actor, system: str, role: str) -> None:
    """Raise PermissionDenied unless the actor holds `role` in the system's pod."""
    if role not in POD_ROLES:
        raise NotFoundError(f"unknown pod role {role!r} (one of {', '.join(POD_ROLES)})")
    held = roles_of(session, system, actor.id)
    if not held:
        raise NoStanding(f"{actor.id} is not in the pod of {system}")
    if role not in held:
        raise PermissionDenied(f"{actor.id} is not {role} of {system}")
