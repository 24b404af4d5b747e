"""The pods' page: a system's delivery pod and its gaps."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal
from keel.catalog.pods import pod_report
from keel.web.pages import page, page_router, session_principal, workspace

router = page_router()


@router.get("/systems/{namespace}/{name}/pod")
def pod_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    with workspace(request).read() as session:
        report = pod_report(session, f"system:{namespace}/{name}")
    return page(request, "pod.html", who, pod=report)
