"""/api/v1/workspace: what the workspace is, and switching its mode (admin)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends

from keel.api.bodies import Body
from keel.api.deps import admin, viewer, workspace
from keel.auth import Principal
from keel.store import schema
from keel.workspace import Workspace
from keel.workspace.core import get_mode, set_mode

router = APIRouter(prefix="/workspace", tags=["workspace"])


class ModeRequest(Body):
    mode: Literal["embedded", "server"]


@router.get("", summary="The workspace: name, schema, mode")
def show(_: Principal = Depends(viewer), ws: Workspace = Depends(workspace)) -> dict[str, Any]:
    with ws.read() as session:
        return {"name": ws.name, "schema": schema.HEAD, "mode": get_mode(session)}


@router.put("/mode", summary="Switch between embedded and server mode")
def mode(
    body: ModeRequest, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        changed = set_mode(session, caller.actor, body.mode)
    return {"mode": body.mode, "changed": changed}
