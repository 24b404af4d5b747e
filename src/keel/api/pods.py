"""/api/v1/pods: a system's delivery pod and its gaps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from keel.api.deps import viewer, workspace
from keel.auth import Principal
from keel.catalog.pods import pod_report
from keel.workspace import Workspace

router = APIRouter(prefix="/pods", tags=["pods"])


@router.get("/{system}", summary="A system's pod: five roles, change plan, gaps")
def pod(
    system: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        return pod_report(session, system).as_dict()
