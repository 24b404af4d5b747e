"""/api/v1/systems/{system}: readiness scorecard, lifecycle stage, and reviews."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import editor, viewer, workspace
from keel.api.problems import problem_response
from keel.auth import Principal
from keel.catalog.queries import system_key
from keel.pipeline import refusals
from keel.readiness import reviews, stages
from keel.readiness.scorecard import readiness
from keel.workspace import Workspace

router = APIRouter(prefix="/systems", tags=["readiness"])


class AdvanceIn(Body):
    to: Literal["design", "build", "validate", "operate"] | None = None


class ReviewIn(Body):
    kind: Literal["privacy", "legal", "security"]
    comment: str = Field("", max_length=reviews.MAX_COMMENT)


@router.get("/{system}/readiness", summary="The readiness scorecard: five dimensions, findings")
def get_readiness(
    system: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        card = readiness(session, system)
        stage = stages.current(session, card.system)
    return {**card.as_dict(), "stage": stage.stage}


@router.get("/{system}/stage", summary="The lifecycle stage and its exit criteria")
def get_stage(
    system: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        return stages.show(session, system)


@router.post(
    "/{system}/stage",
    summary="Advance to the next stage; 409 with the unmet criteria when refused",
    responses={409: {"description": "refused: `missing` lists the unmet exit criteria"}},
)
def advance(
    system: str,
    request: Request,
    body: AdvanceIn | None = None,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> Any:
    to = body.to if body else None
    decision = refusals.logged(
        ws,
        caller.actor,
        "readiness.advance.refused",
        reviews.subject_of(system),
        lambda session: stages.advance(session, caller.actor, system, to),
        standing=refusals.system_standing(caller.actor, system),
    )
    if decision.allowed:
        return decision.as_dict()
    response: JSONResponse = problem_response(
        request,
        409,
        f"{decision.system} stays in {decision.stage}: {len(decision.missing)} exit criteria unmet",
        errors=[str(c) for c in decision.missing],
    )
    return response


@router.get("/{system}/reviews", summary="The system's privacy, legal and security reviews")
def list_reviews(
    system: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> list[dict[str, Any]]:
    with ws.read() as session:
        return [r.summary() for r in reviews.reviews_of(session, system_key(session, system))]


@router.post("/{system}/reviews", status_code=201, summary="Clear a review as its named reviewer")
def post_review(
    system: str,
    body: ReviewIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    done = refusals.logged(
        ws,
        caller.actor,
        "readiness.review.refused",
        reviews.subject_of(system),
        lambda session: reviews.review(session, caller.actor, system, body.kind, body.comment),
        standing=refusals.system_standing(caller.actor, system),
    )
    return done.summary()
