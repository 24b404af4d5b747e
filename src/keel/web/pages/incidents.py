"""The incidents' pages: the list (open first, by severity) and one incident with its notes,
action items and timeline."""

from __future__ import annotations

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal
from keel.incidents import service
from keel.incidents.timeline import timeline
from keel.web.pages import page, page_router, session_principal, workspace

router = page_router()


@router.get("/incidents")
def incidents_page(
    request: Request,
    status: str | None = Query(None, max_length=16),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    with workspace(request).read() as session:
        found = service.list_incidents(session, status=status or None)
        counts = service.open_by_severity(session)
    unresolved = sorted(
        (i for i in found if i.status != "resolved"), key=lambda i: (i.severity, -i.number)
    )
    resolved = [i for i in found if i.status == "resolved"]
    return page(
        request,
        "incidents.html",
        who,
        unresolved=unresolved,
        resolved=resolved,
        counts=counts,
        status=status,
        statuses=service.STATUSES,
    )


@router.get("/incidents/{incident}")
def incident_page(
    incident: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    with workspace(request).read() as session:
        found = service.get_incident(session, incident)
        entries = timeline(session, found)
    return page(request, "incident.html", who, incident=found, timeline=entries)
