"""/api/v1/runs, /evidence, /systems/{system}/releases-where: pipelines report from anywhere.

An Airflow, Prefect, Dagster or CI job that is not Python opens a run, records each check's
evidence and closes the run over HTTP, exactly as the SDK does in process.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import editor, viewer, workspace
from keel.auth import Principal
from keel.pipeline import attach, promotion, refusals, runs
from keel.workspace import Workspace

router = APIRouter(tags=["pipelines"])


class RunIn(Body):
    system: str = Field(max_length=300)
    pipeline: str = Field(max_length=200)


class RunFinish(Body):
    status: str = Field(description="complete or failed", max_length=16)
    facts: dict[str, Any] = Field(default_factory=dict)


class EvidenceBody(Body):
    system: str = Field(max_length=300)
    run: str | None = Field(None, max_length=32)
    release: str | None = Field(None, max_length=320)
    evidence: dict[str, Any] = Field(
        description="{track, check, result, figures, inputs, thresholds, log}"
    )


@router.post("/runs", status_code=201, summary="Open a pipeline run")
def start(body: RunIn, caller: Principal = Depends(editor), ws: Workspace = Depends(workspace)):
    with ws.write(caller.actor) as session:
        return runs.start_run(session, caller.actor, body.system, body.pipeline).summary()


@router.post("/runs/{run_id}/finish", summary="Close a run as complete or failed, with its facts")
def finish(
    run_id: str,
    body: RunFinish,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return runs.finish_run(session, caller.actor, run_id, body.status, body.facts).summary()


@router.get("/runs", summary="Runs, newest first")
def list_runs(
    system: str | None = Query(None, max_length=300),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> list[dict[str, Any]]:
    with ws.read() as session:
        return [r.summary() for r in runs.list_runs(session, system, limit)]


@router.post("/evidence", status_code=201, summary="Record a check's outcome for a run or release")
def add_evidence(
    body: EvidenceBody, caller: Principal = Depends(editor), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    if body.release is not None and body.run is None:  # a release's evidence: the pod only
        refusals.standing_first(ws, refusals.system_standing(caller.actor, body.system))
    with ws.write(caller.actor) as session:
        found = attach.add_evidence(
            session, caller.actor, body.system, body.evidence, run_id=body.run, release=body.release
        )
    return found.summary()


@router.get("/systems/{system}/where", summary="Which release each environment serves, or served")
def where(
    system: str,
    at: str | None = Query(None, max_length=40, description="A past time (RFC 3339, UTC)."),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> list[dict[str, Any]]:
    with ws.read() as session:
        return promotion.where(session, system, at=at)
