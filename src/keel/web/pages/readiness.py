"""The readiness page: a system's scorecard and its lifecycle stage."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal
from keel.readiness import stages
from keel.readiness.scorecard import readiness
from keel.web.pages import names, page, page_router, session_principal, workspace

router = page_router()


@router.get("/systems/{namespace}/{name}/readiness")
def readiness_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    with workspace(request).read() as session:
        card = readiness(session, f"system:{namespace}/{name}")
        stage = stages.show(session, card.system)
    policy = card.minimum.policy if card.minimum else None
    return page(
        request, "readiness.html", who, card=card, stage=stage, names=names(request, [policy])
    )
