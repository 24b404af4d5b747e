"""/api/v1/entities and /api/v1/apply: read the catalog, apply YAML or JSON documents."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from keel.api.bodies import unknown_field
from keel.api.deps import editor, viewer, workspace
from keel.api.problems import Problem
from keel.auth import Principal
from keel.catalog import queries, service
from keel.catalog.parse import parse_documents
from keel.catalog.source import Document, parse_text
from keel.workspace import Workspace

router = APIRouter(tags=["catalog"])


class ApplyResult(BaseModel):
    entities: int
    created: list[str]
    updated: list[str]
    unchanged: int
    op: str | None
    warnings: list[str] = []  # near misses a Backstage kind keeps (`spec.pods` for `pod`)


@router.get("/entities", response_model=queries.Page, summary="List entities")
def list_entities(
    kind: str | None = Query(None, max_length=63),
    system: str | None = Query(None, max_length=300, description="A system reference."),
    q: str | None = Query(None, max_length=200, description="Text to search for."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> queries.Page:
    with ws.read() as session:
        return queries.list_entities(
            session,
            kind=kind,
            system=queries.system_key(session, system) if system else None,
            q=q,
            limit=limit,
            offset=offset,
        )


@router.get("/entities/{kind}/{namespace}/{name}", summary="One entity and its relations")
def get_entity(
    kind: str,
    namespace: str,
    name: str,
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.read() as session:
        return queries.get_entity(session, f"{kind}:{namespace}/{name}")


@router.post(
    "/apply",
    response_model=ApplyResult,
    summary="Apply catalog documents (all or nothing)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["documents"],
                        "properties": {"documents": {"type": "array", "items": {"type": "object"}}},
                    }
                },
            },
        }
    },
)
async def apply(
    request: Request,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    body = await request.body()  # capped by the gate (gate.APPLY_CAP)
    warnings: list[str] = []
    entities, result = await run_in_threadpool(
        _apply, ws, caller, request.headers.get("content-type", ""), body, warnings
    )
    return {
        "entities": len(entities),
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "op": result.op,
        "warnings": warnings,
    }


def _apply(ws: Workspace, caller: Principal, content_type: str, body: bytes, warnings: list):
    entities = _parse(content_type, body, warnings)
    with ws.write(caller.actor) as session:
        return entities, service.apply(session, caller.actor, entities)


def _parse(content_type: str, body: bytes, warnings: list[str]) -> list:
    media = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "the body is not UTF-8") from None
    if media in ("application/yaml", "application/x-yaml", "text/yaml"):
        return parse_documents(parse_text(text, "<body>"), warnings)
    if media == "application/json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Problem(400, f"malformed JSON: {exc}") from None
        except RecursionError:
            raise Problem(400, "malformed JSON: nested too deeply") from None
        if isinstance(data, dict) and (unknown := unknown_field(data, ["documents"])):
            raise Problem(422, unknown)
        docs = data.get("documents") if isinstance(data, dict) else None
        if not isinstance(docs, list):
            raise Problem(422, 'a JSON body is {"documents": [entity, ...]}')
        documents = [Document(d, f"<documents[{i}]>", {}) for i, d in enumerate(docs)]
        return parse_documents(documents, warnings)
    raise Problem(
        415, 'send application/yaml (catalog YAML) or application/json ({"documents": [...]})'
    )
