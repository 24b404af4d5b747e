"""The catalog's pages: the systems overview, a system's map, the whole catalog with its
search table, and one node with its four questions."""

from __future__ import annotations

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from keel.auth import Principal
from keel.catalog import queries
from keel.web import views
from keel.web.pages import (
    existing,
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
    return page(
        request, "overview.html", who, systems=views.systems_overview(snap), report=snap.report
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
    return page(
        request,
        "_table.html",
        who,
        page=result,
        number=number,
        size=TABLE_ROWS,
        q=q or "",
        kind=kind or "",
        system=system or "",
    )


@router.get("/entities/{kind}/{namespace}/{name}")
def node_page(
    kind: str,
    namespace: str,
    name: str,
    request: Request,
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    snap = snapshot(request)
    key = existing(snap, f"{kind}:{namespace}/{name}")
    node = snap.graph.nodes[key]
    graph = snap.graph
    return page(
        request,
        "node.html",
        who,
        node=node,
        key=key,
        questions=views.node_questions(snap, key),
        upstream=sorted(graph.upstream.get(key, [])),
        downstream=sorted(graph.downstream.get(key, [])),
        findings=snap.by_subject.get(key, []),
        system=graph.system_of(key),
        nodes=graph.nodes,
        yaml_text=_yaml(node.body),
    )


def _yaml(body: dict) -> str:
    import yaml

    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
