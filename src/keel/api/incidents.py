"""/api/v1/incidents: incidents, their status, notes, action items and timeline.

Reading needs the viewer role, every change the editor role. A change the incident's state
forbids (resolving twice, an action item on a resolved incident) is a 409, logged once as
`incidents.incident.refused`; bad input is a 4xx that stores and logs nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import editor, viewer, workspace
from keel.auth import Principal
from keel.incidents import service
from keel.incidents.timeline import timeline
from keel.pipeline import refusals
from keel.workspace import Workspace

router = APIRouter(prefix="/incidents", tags=["incidents"])


class OpenIn(Body):
    systems: list[str] = Field(min_length=1, max_length=20)
    severity: int
    title: str = Field(max_length=service.MAX_TITLE)
    releases: list[str] = Field(default_factory=list, max_length=20)
    owner: str | None = Field(None, max_length=300)


class StatusIn(Body):
    status: Literal["acknowledged", "mitigated", "resolved"]
    note: str = Field("", max_length=service.MAX_NOTE)


class NoteIn(Body):
    text: str = Field(max_length=service.MAX_NOTE)


class UpdateIn(Body):
    severity: int | None = None
    title: str | None = Field(None, max_length=service.MAX_TITLE)
    owner: str | None = Field(None, max_length=300)


class ActionIn(Body):
    title: str = Field(max_length=service.MAX_TITLE)
    owner: str = Field(max_length=300)
    due: str | None = Field(None, max_length=10, description="YYYY-MM-DD")
    tag: str | None = Field(None, max_length=service.MAX_TAG, description="e.g. eval, retrain")


@router.get("", summary="Incidents, newest first; optionally in one status or of one system")
def list_incidents(
    status: str | None = Query(None, max_length=16),
    system: str | None = Query(None, max_length=300),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> list[dict[str, Any]]:
    with ws.read() as session:
        return [i.summary() for i in service.list_incidents(session, status=status, system=system)]


@router.post("", status_code=201, summary="Open an incident; answers it with its id (INC-<n>)")
def open_incident(
    body: OpenIn, caller: Principal = Depends(editor), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        opened = service.open_incident(
            session,
            caller.actor,
            systems=body.systems,
            severity=body.severity,
            title=body.title,
            releases=body.releases,
            owner=body.owner,
        )
    return opened.as_dict()


@router.get("/{incident}", summary="An incident with its notes, action items and timeline")
def show(
    incident: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        found = service.get_incident(session, incident)
        entries = timeline(session, found)
    return {**found.as_dict(), "timeline": [e.as_dict() for e in entries]}


def _logged(ws: Workspace, caller: Principal, incident: str, work) -> Any:
    return refusals.logged(ws, caller.actor, service.REFUSED, incident.upper(), work)


@router.post("/{incident}/status", summary="Move forward: acknowledged, mitigated, resolved")
def move(
    incident: str,
    body: StatusIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _logged(
        ws,
        caller,
        incident,
        lambda s: service.move(s, caller.actor, incident, body.status, body.note),
    ).as_dict()


@router.patch("/{incident}", summary="Change an incident's severity, title or owner")
def update(
    incident: str,
    body: UpdateIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _logged(
        ws,
        caller,
        incident,
        lambda s: service.update(
            s, caller.actor, incident, severity=body.severity, title=body.title, owner=body.owner
        ),
    ).as_dict()


@router.post("/{incident}/notes", status_code=201, summary="Add a note")
def note(
    incident: str,
    body: NoteIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return service.add_note(session, caller.actor, incident, body.text).as_dict()


@router.post("/{incident}/actions", status_code=201, summary="Add an action item")
def add_action(
    incident: str,
    body: ActionIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _logged(
        ws,
        caller,
        incident,
        lambda s: service.add_action(
            s,
            caller.actor,
            incident,
            title=body.title,
            owner=body.owner,
            due=body.due,
            tag=body.tag,
        ),
    ).summary()


@router.post("/{incident}/actions/{number}/done", summary="Mark an action item done")
def complete_action(
    incident: str,
    number: int,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _logged(
        ws,
        caller,
        incident,
        lambda s: service.complete_action(s, caller.actor, incident, number),
    ).summary()
