"""The catalog's pages: the systems overview, a system's map, the whole catalog with its
search table, and one node with its four questions (a model with its releases, an API with
its gateway routes and recent traffic)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal
from keel.catalog import queries
from keel.catalog.graph import Node
from keel.gateway import routes
from keel.gateway.figures import traffic_series
from keel.pipeline import promotion, releases
from keel.web import views
from keel.web.pages import (
    Found,
    entity_in_path,
    existing,
    names,
    page,
    page_router,
    script_json,
    session_principal,
    snapshot,
    workspace,
)

router = page_router()
TABLE_ROWS = 50


@router.get("/")
def overview(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    snap = snapshot(request)
    systems = views.systems_overview(snap)
    return page(
        request,
        "overview.html",
        who,
        systems=systems,
        report=snap.report,
        names=names(request, [s["owner"] for s in systems]),
    )


@router.get("/systems/{namespace}/{name}")
def system_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    snap = snapshot(request)
    key = existing(snap, f"system:{namespace}/{name}")
    view = views.system_graph(snap, key)
    return page(
        request,
        "system.html",
        who,
        system=snap.graph.nodes[key],
        view=view,
        graph_json=script_json(view),
        names=names(request, [n["owner"] for n in view["nodes"]]),
        findings=[
            f for f in snap.report.findings if f.subject in {n["ref"] for n in view["nodes"]}
        ],
    )


@router.get("/catalog")
def catalog_page(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    snap = snapshot(request)
    aggregate = views.catalog_aggregate(snap)
    return page(
        request,
        "catalog.html",
        who,
        aggregate_json=script_json(aggregate),
        aggregate=aggregate,
        total=len(snap.graph.nodes),
        kinds=sorted({n.kind for n in snap.graph.nodes.values()}),
    )


@router.get("/catalog/table")
def catalog_table(
    request: Request,
    q: str | None = Query(None, max_length=200),
    kind: str | None = Query(None, max_length=63),
    system: str | None = Query(None, max_length=300),
    number: int = Query(1, alias="page", ge=1, le=100_000),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    with workspace(request).read() as session:
        result = queries.list_entities(
            session,
            kind=kind or None,
            system=queries.system_key(session, system) if system else None,
            q=q or None,
            limit=TABLE_ROWS,
            offset=(number - 1) * TABLE_ROWS,
        )
    items = result.items
    shown = names(
        request, [e.ref for e in items], [e.owner for e in items], [e.system for e in items]
    )
    return page(
        request,
        "_table.html",
        who,
        names=shown,
        page=result,
        number=number,
        size=TABLE_ROWS,
        q=q or "",
        kind=kind or "",
        system=system or "",
    )


@router.get("/entities/{kind}/{namespace}/{name}")
def node_page(
    request: Request,
    found: Found = Depends(entity_in_path),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    graph, key, node = found.snap.graph, found.key, found.node
    questions = views.node_questions(found.snap, key)
    system = graph.system_of(key)
    extra = _model_releases(request, node, system) | _api_routes(request, node)
    shown = [system, *graph.upstream.get(key, []), *graph.downstream.get(key, [])]
    shown += [r for q in questions for r in q["refs"] + [q["via"]]]
    shown += [r.created_by for r in extra.get("releases") or []]
    shown += [r["updated_by"] for r in extra.get("routes") or []]
    return page(
        request,
        "node.html",
        who,
        node=node,
        key=key,
        questions=questions,
        upstream=sorted(graph.upstream.get(key, [])),
        downstream=sorted(graph.downstream.get(key, [])),
        findings=found.snap.by_subject.get(key, []),
        system=system,
        nodes=graph.nodes,
        yaml_text=_yaml(node.body),
        names=names(request, shown),
        **{"releases": None, "routes": None} | extra,
    )


def _model_releases(request: Request, node: Node, system: str | None) -> dict[str, Any]:
    """A model's releases, newest first, and where each serves."""
    if node.kind != "Model":
        return {}
    if system is None:
        return {"releases": [], "serves": {}}
    with workspace(request).read() as session:
        found = [r for r in releases.list_releases(session, system) if r.model == node.key]
        placed = promotion.where(session, system)
    serves: dict[str, list[str]] = {}
    for row in placed:
        serves.setdefault(row["release"], []).append(row["environment"])
    return {"releases": found[::-1], "serves": serves}


def _api_routes(request: Request, node: Node) -> dict[str, Any]:
    """An API's gateway routes per environment and its recent traffic, from the log."""
    if node.kind != "API":
        return {}
    with workspace(request).read() as session:
        found = [r for r in routes.list_routes(session) if r.endpoint == node.key]
        traffic = traffic_series(session, endpoint=node.key)
    return {"routes": [views.route_row(r) for r in found], "traffic": traffic}


def _yaml(body: dict) -> str:
    import yaml

    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
