"""The gateway page: keys, routes, live request and rate-limit figures, and per-minute
charts of the last half hour from the traffic log (admins only, the API's rule)."""

from __future__ import annotations

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal, role_allows
from keel.errors import PermissionDenied
from keel.gateway import config, keys
from keel.gateway.figures import traffic_figures, traffic_series
from keel.web import views
from keel.web.pages import names, page, page_router, session_principal, workspace

router = page_router()


@router.get("/gateway")
def gateway_page(
    request: Request,
    refresh: int = Query(5, ge=0, le=3600, description="Seconds between reloads; 0: never."),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    if not role_allows(who.role, "admin"):
        raise PermissionDenied(f"the gateway page is for admins; you are a {who.role}")
    with workspace(request).read() as session:
        figures = traffic_figures(session)
        series = traffic_series(session)
        snapshot = config.load(session)  # what the gateway itself would serve, and refuse
        found_keys = keys.list_keys(session)
    found_routes = list(snapshot.routes.values())
    endpoints = [r.endpoint for r in found_routes] + [e for k in found_keys for e in k.endpoints]
    return page(
        request,
        "gateway.html",
        who,
        figures=figures,
        refresh=refresh,
        traffic=series,
        charts=views.traffic_charts(series),
        routes=[
            views.governed_route_row(
                r,
                snapshot.releases.get((r.endpoint, r.environment), ()),
                (r.endpoint, r.environment) in snapshot.ungoverned,
            )
            for r in found_routes
        ],
        keys=found_keys,
        names=names(request, endpoints),
    )
