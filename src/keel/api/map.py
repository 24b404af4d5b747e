"""/api/v1/map: validate the four questions, walk impact, the graph of a system or all."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from keel.api.deps import viewer, workspace
from keel.auth import Principal
from keel.catalog.graph import load_graph
from keel.catalog.impact import impact as impact_of
from keel.catalog.render import map_view, render
from keel.catalog.validate import validate as validate_map
from keel.workspace import Workspace

router = APIRouter(prefix="/map", tags=["map"])
SYSTEM = Query(None, max_length=300, description="Only this system (name or system:ns/name).")


@router.get("/validate", summary="Each node's unanswered questions")
def validate(
    system: str | None = SYSTEM,
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.read() as session:
        graph = load_graph(session)
        key = graph.resolve_system(system).key if system else None
        return validate_map(graph, system=key).as_dict()


@router.get("/impact", summary="Blast radius (down) or sources (up) of a node")
def impact(
    ref: str = Query(..., min_length=1, max_length=300),
    direction: Literal["down", "up", "both"] = "down",
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.read() as session:
        return impact_of(session, ref, direction).as_dict()


@router.get(
    "/show",
    summary="The map's nodes and lineage edges (JSON), or drawn as Mermaid or dot",
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}},
)
def show(
    system: str | None = SYSTEM,
    format: Literal["json", "mermaid", "dot"] = "json",
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> Any:
    with ws.read() as session:
        catalog = load_graph(session)
        key = catalog.resolve_system(system).key if system else None
        view = map_view(catalog, key)
    return view if format == "json" else PlainTextResponse(render(view, format))
