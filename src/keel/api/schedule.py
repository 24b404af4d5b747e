"""/api/v1/schedule: the jobs packages declare, their state, and pausing them (admin).

The same as `keel schedule` (keel.worker.schedule); in server mode the CLI's pause and
resume come here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends

from keel.api.deps import admin, viewer, workspace
from keel.auth import Principal
from keel.worker import runner, schedule
from keel.workspace import Workspace

router = APIRouter(prefix="/schedule", tags=["schedule"])


@router.get("", summary="Every declared job and reconciler: schedule, next run, last result")
def jobs(_: Principal = Depends(viewer), ws: Workspace = Depends(workspace)) -> dict[str, Any]:
    with ws.read() as session:
        return {"jobs": schedule.describe(session, runner.load(), datetime.now(UTC))}


@router.get("/{name}", summary="One job and its recent slots")
def job(name: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)) -> dict:
    with ws.read() as session:
        return schedule.show(session, runner.load(), name, datetime.now(UTC))


@router.post("/{name}/pause", summary="Pause a job (stored; every worker keeps it)")
def pause(name: str, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)):
    return _set(ws, caller, name, True)


@router.post("/{name}/resume", summary="Resume a paused job; its newest missed slot runs once")
def resume(name: str, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)):
    return _set(ws, caller, name, False)


def _set(ws: Workspace, caller: Principal, name: str, paused: bool) -> dict[str, Any]:
    plan = runner.load()
    with ws.write(caller.actor) as session:
        schedule.set_paused(session, caller.actor, plan, name, paused)
    return {"name": name, "paused": paused}
