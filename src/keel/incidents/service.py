"""Incidents: opening one, moving it forward, notes and action items, and reading them back.

An incident is `INC-<n>` (numbered in order per workspace), with a severity from 1 (the
worst) to 4, a title, the systems and releases involved, an owner (a catalog user or group;
by default the first system's owner) and a status that only moves forward:

    open -> acknowledged -> mitigated -> resolved

(a step may be skipped; none is taken twice or back). Every change is one event in the
governance log, subject the incident's id, whose details carry the incident's `severity`,
`status`, `systems` and `title` so that a reader of the log (notifications) needs nothing
else. `cause` names what opened an incident by itself (`audit.verify:governance`,
`gateway.error_spike:api:default/x`): while one with that cause is not resolved, the same
cause adds a note to it instead of opening another (`keel.incidents.detect`).

Bad input (a severity outside 1-4, an unknown system, release or owner) is an InputError or
NotFoundError and stores nothing; a step the state forbids (resolving twice, an action item
on a resolved incident) is a ConflictError, which callers log once as
`incidents.incident.refused` through `keel.pipeline.refusals.logged`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keel.audit.events import Change, append
from keel.catalog.queries import get_entity, kind_of, system_key
from keel.catalog.refs import key_of
from keel.errors import ConflictError, InputError, NotFoundError
from keel.identity import Actor
from keel.incidents.tables import ActionItemRow, IncidentRow, NoteRow
from keel.pipeline.releases import get_release

STATUSES = ("open", "acknowledged", "mitigated", "resolved")
SEVERITIES = (1, 2, 3, 4)
REFUSED = "incidents.incident.refused"
MOVED = {  # the event of each step forward
    "acknowledged": "incidents.incident.acknowledged",
    "mitigated": "incidents.incident.mitigated",
    "resolved": "incidents.incident.resolved",
}
MAX_TITLE = 200
MAX_NOTE = 4000
MAX_TAG = 32
ID = re.compile(r"^INC-([1-9][0-9]{0,8})$", re.IGNORECASE)
TAG = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
OWNER_KINDS = ("User", "Group")


@dataclass(frozen=True)
class Note:
    number: int
    text: str
    author: str
    created_at: str

    def summary(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "text": self.text,
            "author": self.author,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class ActionItem:
    incident: str
    number: int
    title: str
    owner: str
    due: str | None
    tag: str | None
    done: bool
    done_at: str | None
    done_by: str | None
    created_at: str

    def summary(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "number": self.number,
            "title": self.title,
            "owner": self.owner,
            "due": self.due,
            "tag": self.tag,
            "done": self.done,
            "doneAt": self.done_at,
            "doneBy": self.done_by,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class Incident:
    id: str
    number: int
    severity: int
    status: str
    title: str
    systems: list[str]
    releases: list[str]
    owner: str | None
    cause: str | None
    opened_at: str
    opened_by: str
    updated_at: str
    acknowledged_at: str | None
    mitigated_at: str | None
    resolved_at: str | None
    notes: list[Note] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "systems": self.systems,
            "releases": self.releases,
            "owner": self.owner,
            "cause": self.cause,
            "openedAt": self.opened_at,
            "openedBy": self.opened_by,
            "updatedAt": self.updated_at,
            "acknowledgedAt": self.acknowledged_at,
            "mitigatedAt": self.mitigated_at,
            "resolvedAt": self.resolved_at,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "notes": [n.summary() for n in self.notes],
            "actions": [a.summary() for a in self.actions],
        }

    def event_details(self, **more: Any) -> dict[str, Any]:
        """What every event of the incident carries, so its readers need nothing else."""
        return {
            "incident": self.id,
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "systems": self.systems,
            "releases": self.releases,
            "owner": self.owner,
            **more,
        }


# --- checks of what people type ----------------------------------------------------------


def check_severity(value: object) -> int:
    """The severity as an int from 1 to 4; InputError otherwise."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        number = int(value.strip())  # ASCII digits only: '¹' is a digit to str.isdigit
    if number not in SEVERITIES:
        raise InputError(f"severity {value!r}: a whole number from 1 (the worst) to 4")
    return number


def number_of(incident: str) -> int:
    """The number of `INC-7` (any case); InputError for anything else."""
    found = ID.match(incident.strip()) if isinstance(incident, str) else None
    if found is None:
        raise InputError(f"{incident!r} is not an incident: write INC-<n>, e.g. INC-7")
    return int(found.group(1))


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InputError("an incident needs a title")
    if len(title) > MAX_TITLE:
        raise InputError(f"a title is at most {MAX_TITLE} characters")
    return title


def _owner(session: Session, owner: str) -> str:
    try:
        key = key_of(owner, default_kind="user")
    except ValueError as exc:
        raise InputError(f"owner {owner!r}: {exc}") from None
    kind = kind_of(session, key)
    if kind is None:
        raise NotFoundError(f"owner {key}: no such user or group in the catalog")
    if kind not in OWNER_KINDS:
        raise InputError(f"owner {key} is a {kind}; an owner is a User or Group")
    return key


def _system_owner(session: Session, system: str) -> str | None:
    relations = get_entity(session, system)["relations"]
    return next((r["target"] for r in relations if r["type"] == "ownedBy"), None)


def _due(due: str | None) -> str | None:
    if due is None or due == "":
        return None
    try:
        return date.fromisoformat(due).isoformat()
    except ValueError:
        raise InputError(f"due {due!r}: a date written YYYY-MM-DD") from None


def _tag(tag: str | None) -> str | None:
    if tag is None or tag == "":
        return None
    if not TAG.match(tag):
        raise InputError(f"tag {tag!r}: lower-case letters, digits and '-', e.g. eval or retrain")
    return tag


def _text(text: str, what: str = "a note") -> str:
    text = text.strip()
    if not text:
        raise InputError(f"{what} may not be empty")
    if len(text) > MAX_NOTE:
        raise InputError(f"{what} is at most {MAX_NOTE} characters")
    return text


# --- changes -----------------------------------------------------------------------------


def open_incident(
    session: Session,
    actor: Actor,
    *,
    systems: Sequence[str],
    severity: object,
    title: str,
    releases: Sequence[str] = (),
    owner: str | None = None,
    cause: str | None = None,
    context: dict[str, Any] | None = None,
) -> Incident:
    """Open an incident; `context` adds to the opening event's details (what detected it)."""
    level = check_severity(severity)
    title = _title(title)
    keys: list[str] = []
    for system in systems:
        key = system_key(session, system)
        if key not in keys:
            keys.append(key)
    names: list[str] = []
    for ref in releases:
        release = get_release(session, ref)
        if release.name not in names:
            names.append(release.name)
        if release.system and release.system not in keys:  # its system is involved too
            keys.append(release.system)
    who = _owner(session, owner) if owner else (_system_owner(session, keys[0]) if keys else None)
    number = (session.scalar(select(func.max(IncidentRow.number))) or 0) + 1
    incident = Incident(
        id=f"INC-{number}",
        number=number,
        severity=level,
        status="open",
        title=title,
        systems=keys,
        releases=names,
        owner=who,
        cause=cause,
        opened_at="",
        opened_by=actor.id,
        updated_at="",
        acknowledged_at=None,
        mitigated_at=None,
        resolved_at=None,
    )
    details = incident.event_details(cause=cause, **(context or {}))
    (event,) = append(session, actor, [Change("incidents.incident.opened", incident.id, details)])
    session.add(
        IncidentRow(
            number=number,
            severity=level,
            status="open",
            title=title,
            systems=json.dumps(keys),
            releases=json.dumps(names),
            owner=who,
            cause=cause,
            opened_at=event.time,
            opened_by=actor.id,
            updated_at=event.time,
            event_seq=event.seq,
        )
    )
    session.flush()
    return get_incident(session, incident.id)


def move(session: Session, actor: Actor, incident: str, to: str, note: str = "") -> Incident:
    """Move the incident forward to `to` (acknowledged, mitigated, resolved); ConflictError
    when it is there already or past it."""
    if to not in STATUSES[1:]:
        raise InputError(f"an incident moves to one of {', '.join(STATUSES[1:])}, not {to!r}")
    text = _text(note) if note.strip() else ""
    row = _row(session, incident)
    current = STATUSES.index(row.status)
    wanted = STATUSES.index(to)
    if current == wanted:
        raise ConflictError(f"INC-{row.number} is already {to}")
    if current > wanted:
        raise ConflictError(
            f"INC-{row.number} is {row.status}: an incident only moves forward "
            f"({' -> '.join(STATUSES)})"
        )
    before = row.status
    row.status = to
    found = _from_row(session, row)
    details = found.event_details(previous=before, note=text or None)
    (event,) = append(session, actor, [Change(MOVED[to], found.id, details)])
    setattr(row, f"{to}_at", event.time)
    row.updated_at = event.time
    if text:
        _add_note_row(session, row.number, text, actor, event.time, event.seq)
    session.flush()
    return get_incident(session, found.id)


def add_note(session: Session, actor: Actor, incident: str, text: str) -> Incident:
    """Add a note (also to a resolved incident: what the postmortem found)."""
    text = _text(text)
    row = _row(session, incident)
    found = _from_row(session, row)
    (event,) = append(
        session,
        actor,
        [Change("incidents.incident.noted", found.id, found.event_details(note=text))],
    )
    _add_note_row(session, row.number, text, actor, event.time, event.seq)
    row.updated_at = event.time
    session.flush()
    return get_incident(session, found.id)


def update(
    session: Session,
    actor: Actor,
    incident: str,
    *,
    severity: object = None,
    title: str | None = None,
    owner: str | None = None,
) -> Incident:
    """Change the severity, title or owner; ConflictError once resolved or when nothing
    changes."""
    level = check_severity(severity) if severity is not None else None
    new_title = _title(title) if title is not None else None
    new_owner = _owner(session, owner) if owner is not None else None
    row = _row(session, incident)
    _not_resolved(row, "updated")
    changed: dict[str, dict[str, Any]] = {}
    for name, value in (("severity", level), ("title", new_title), ("owner", new_owner)):
        if value is not None and getattr(row, name) != value:
            changed[name] = {"before": getattr(row, name), "after": value}
            setattr(row, name, value)
    if not changed:
        raise ConflictError(f"INC-{row.number}: nothing to change")
    found = _from_row(session, row)
    (event,) = append(
        session,
        actor,
        [Change("incidents.incident.updated", found.id, found.event_details(changed=changed))],
    )
    row.updated_at = event.time
    session.flush()
    return get_incident(session, found.id)


def add_action(
    session: Session,
    actor: Actor,
    incident: str,
    *,
    title: str,
    owner: str,
    due: str | None = None,
    tag: str | None = None,
) -> ActionItem:
    """Add an action item; ConflictError on a resolved incident."""
    what = _title(title)
    who = _owner(session, owner)
    when = _due(due)
    label = _tag(tag)
    row = _row(session, incident)
    _not_resolved(row, "given action items")
    number = (
        session.scalar(
            select(func.max(ActionItemRow.number)).where(ActionItemRow.incident == row.number)
        )
        or 0
    ) + 1
    found = _from_row(session, row)
    item = {"number": number, "title": what, "owner": who, "due": when, "tag": label}
    (event,) = append(
        session,
        actor,
        [Change("incidents.action.added", found.id, found.event_details(action=item))],
    )
    session.add(
        ActionItemRow(
            incident=row.number,
            number=number,
            title=what,
            owner=who,
            due=when,
            tag=label,
            done=False,
            created_at=event.time,
        )
    )
    row.updated_at = event.time
    session.flush()
    return _action(session, row.number, number)


def complete_action(session: Session, actor: Actor, incident: str, number: int) -> ActionItem:
    """Mark action item `number` done; ConflictError when it is, or the incident is resolved."""
    row = _row(session, incident)
    _not_resolved(row, "changed")
    item = session.get(ActionItemRow, (row.number, number))
    if item is None:
        raise NotFoundError(f"INC-{row.number} has no action item {number}")
    if item.done:
        raise ConflictError(f"action item {number} of INC-{row.number} is already done")
    found = _from_row(session, row)
    details = {"number": number, "title": item.title, "owner": item.owner, "tag": item.tag}
    (event,) = append(
        session,
        actor,
        [Change("incidents.action.done", found.id, found.event_details(action=details))],
    )
    item.done, item.done_at, item.done_by = True, event.time, actor.id
    row.updated_at = event.time
    session.flush()
    return _action(session, row.number, number)


def _not_resolved(row: IncidentRow, what: str) -> None:
    if row.status == "resolved":
        raise ConflictError(f"INC-{row.number} is resolved: it can no longer be {what}")


def _add_note_row(
    session: Session, incident: int, text: str, actor: Actor, time: str, seq: int
) -> None:
    number = (
        session.scalar(select(func.max(NoteRow.number)).where(NoteRow.incident == incident)) or 0
    ) + 1
    session.add(
        NoteRow(
            incident=incident,
            number=number,
            text=text,
            author=actor.id,
            created_at=time,
            event_seq=seq,
        )
    )


# --- reading -----------------------------------------------------------------------------


def get_incident(session: Session, incident: str) -> Incident:
    """One incident with its notes and action items; NotFoundError when there is none."""
    row = _row(session, incident)
    notes = session.scalars(
        select(NoteRow).where(NoteRow.incident == row.number).order_by(NoteRow.number)
    )
    actions = session.scalars(
        select(ActionItemRow)
        .where(ActionItemRow.incident == row.number)
        .order_by(ActionItemRow.number)
    )
    return replace(
        _from_row(session, row),
        notes=[_note(n) for n in notes],
        actions=[_item(a) for a in actions],
    )


def list_incidents(
    session: Session, *, status: str | None = None, system: str | None = None
) -> list[Incident]:
    """Incidents, newest first; optionally in one status or involving one system."""
    query = select(IncidentRow).order_by(IncidentRow.number.desc())
    if status is not None:
        if status not in STATUSES:
            raise InputError(f"status {status!r}: one of {', '.join(STATUSES)}")
        query = query.where(IncidentRow.status == status)
    key = system_key(session, system) if system else None
    found = [_from_row(session, r) for r in session.scalars(query)]
    return [i for i in found if key is None or key in i.systems]


def unresolved_with_cause(session: Session, cause: str) -> Incident | None:
    """The newest incident opened for `cause` that is not resolved yet, or None."""
    row = session.scalar(
        select(IncidentRow)
        .where(IncidentRow.cause == cause, IncidentRow.status != "resolved")
        .order_by(IncidentRow.number.desc())
        .limit(1)
    )
    return None if row is None else _from_row(session, row)


def open_by_severity(session: Session) -> dict[int, int]:
    """How many incidents are not resolved, per severity (every severity, 0 when none)."""
    rows = session.execute(
        select(IncidentRow.severity, func.count())
        .where(IncidentRow.status != "resolved")
        .group_by(IncidentRow.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    counts.update({int(s): int(n) for s, n in rows})
    return counts


def _row(session: Session, incident: str) -> IncidentRow:
    number = number_of(incident)
    row = session.get(IncidentRow, number)
    if row is None:
        raise NotFoundError(f"no incident INC-{number}")
    return row


def _from_row(session: Session, row: IncidentRow) -> Incident:
    return Incident(
        id=f"INC-{row.number}",
        number=row.number,
        severity=row.severity,
        status=row.status,
        title=row.title,
        systems=json.loads(row.systems),
        releases=json.loads(row.releases),
        owner=row.owner,
        cause=row.cause,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        updated_at=row.updated_at,
        acknowledged_at=row.acknowledged_at,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
    )


def _note(row: NoteRow) -> Note:
    return Note(row.number, row.text, row.author, row.created_at)


def _item(row: ActionItemRow) -> ActionItem:
    return ActionItem(
        f"INC-{row.incident}",
        row.number,
        row.title,
        row.owner,
        row.due,
        row.tag,
        bool(row.done),
        row.done_at,
        row.done_by,
        row.created_at,
    )


def _action(session: Session, incident: int, number: int) -> ActionItem:
    row = session.get(ActionItemRow, (incident, number))
    assert row is not None
    return _item(row)
