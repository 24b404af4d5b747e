"""The gateway page: keys, routes and live request and rate-limit figures (admins only,
the API's rule)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal, role_allows
from keel.errors import PermissionDenied
from keel.gateway import keys, routes
from keel.gateway.figures import traffic_figures
from keel.web.pages import page, page_router, session_principal, workspace

router = page_router()


@router.get("/gateway")
def gateway_page(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    if not role_allows(who.role, "admin"):
        raise PermissionDenied(f"the gateway page is for admins; you are a {who.role}")
    with workspace(request).read() as session:
        figures = traffic_figures(session)
        found_routes = routes.list_routes(session)
        found_keys = keys.list_keys(session)
    return page(request, "gateway.html", who, figures=figures, routes=found_routes, keys=found_keys)
