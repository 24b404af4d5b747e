"""/api/v1/audit: the latest signed checkpoint, inclusion and consistency proofs, public keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from keel.api.deps import viewer, workspace
from keel.api.problems import Problem
from keel.audit import checkpoints, keys
from keel.audit import log as audit_log
from keel.auth import Principal
from keel.workspace import Workspace

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (a C2SP signed note)",
)
def checkpoint(_: Principal = Depends(viewer), ws: Workspace = Depends(workspace)) -> str:
    with ws.read() as session:
        latest = checkpoints.latest(session)
    if latest is None:
        raise Problem(404, "no checkpoint yet")
    return latest.note


@router.get("/keys", summary="Every public key the workspace has signed with")
def public_keys(
    _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        return {"name": ws.name, "keys": keys.history(session)}


@router.get("/proof", summary="Inclusion (leaf) or consistency (from, to) proof")
def proof(
    leaf: int | None = Query(None, ge=1, le=2**62, description="The event's seq."),
    size: int | None = Query(
        None, ge=1, le=2**62, description="Tree size; default the latest checkpoint."
    ),
    from_size: int | None = Query(None, alias="from", ge=1, le=2**62),
    to_size: int | None = Query(None, alias="to", ge=1, le=2**62),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    if (leaf is None) == (from_size is None):
        raise Problem(422, "ask for leaf (with an optional size), or from (with an optional to)")
    with ws.read() as session:
        if leaf is not None:
            return audit_log.inclusion(session, leaf, size=size).as_dict()
        return audit_log.consistency(session, from_size, to_size).as_dict()  # type: ignore[arg-type]
