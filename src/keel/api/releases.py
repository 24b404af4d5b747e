"""/api/v1/releases: model releases, their signed attestation bundles, ML-BOMs, verification."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from keel.api.bodies import Body
from keel.api.deps import editor, viewer, workspace
from keel.api.problems import Problem, problem_response
from keel.auth import Principal
from keel.pipeline import approvals, promotion, refusals, releases, reviews
from keel.pipeline.bom import release_bom
from keel.workspace import Workspace

router = APIRouter(tags=["releases"])
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@router.get("/releases", summary="Releases, oldest first; optionally of one system")
def list_releases(
    system: str | None = Query(None, max_length=300),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> list[dict[str, Any]]:
    with ws.read() as session:
        return [r.summary() for r in releases.list_releases(session, system)]


@router.post("/attestations/verify", summary="Verify an attestation bundle (.intoto.jsonl)")
async def verify(
    request: Request,
    artifact_digest: str | None = Query(
        None, description="Also check the subject is this artifact (sha256:<hex>)."
    ),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    if artifact_digest is not None and not DIGEST.match(artifact_digest):
        raise Problem(422, "artifact_digest is written sha256:<64 hex digits>")
    body = await request.body()  # capped by the gate (MAX_BUNDLE)
    result = await run_in_threadpool(_verify, ws, body, artifact_digest)
    return {
        "verified": result.ok,
        "subject": result.subject,
        "release": (result.release or {}).get("release"),
        "checks": result.checks,
        "problems": result.problems,
    }


def _verify(ws: Workspace, body: bytes, artifact_digest: str | None):
    """Off the event loop: hashing and signature checks are CPU work."""
    with ws.read() as session:
        return releases.verify_file(
            session, body, pinned=ws.pinned(), artifact_digest=artifact_digest
        )


@router.get(
    "/releases/{release:path}/bundle",
    summary="A release's signed attestations: DSSE envelopes, one per line",
    response_class=Response,
    responses={200: {"content": {"application/jsonl": {}}}},
)
def bundle(
    release: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> Response:
    with ws.read() as session:
        found = releases.get_release(session, release)
    return Response(found.bundle, media_type="application/jsonl")


@router.get("/releases/{release:path}/bom", summary="A release as a CycloneDX 1.6 ML-BOM")
def bom(release: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)):
    with ws.read() as session:
        document = release_bom(session, release)
    return JSONResponse(document, media_type="application/vnd.cyclonedx+json; version=1.6")


class ApprovalIn(Body):
    role: str = Field(max_length=32)
    comment: str = Field("", max_length=2000)


class ApprovalRequestIn(Body):
    note: str = Field("", max_length=2000)


class RejectionIn(Body):
    role: str = Field(max_length=32)
    reason: str = Field(min_length=1, max_length=2000)


class PromotionIn(Body):
    to: str = Field(max_length=16, description="staging or production")


@router.get(
    "/releases/{release:path}/status",
    summary="A release's evidence, approvals, where it serves, and what it lacks per environment",
)
def status(
    release: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        return promotion.status(session, releases.get_release(session, release))


@router.post(
    "/releases/{release:path}/approvals",
    status_code=201,
    summary="Approve a release in a pod role the caller holds (refusals are logged)",
)
def approve(
    release: str,
    body: ApprovalIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _decided(
        ws,
        caller,
        "pipeline.approval.refused",
        release,
        lambda session: approvals.approve(session, caller.actor, release, body.role, body.comment),
    )


@router.post(
    "/releases/{release:path}/approval-requests",
    status_code=201,
    summary="Open a review round: the pod members who hold the roles still needed are named",
)
def request_approval(
    release: str,
    body: ApprovalRequestIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _decided(
        ws,
        caller,
        "pipeline.approval_request.refused",
        release,
        lambda session: reviews.request_approval(session, caller.actor, release, body.note),
    )


@router.post(
    "/releases/{release:path}/rejections",
    status_code=201,
    summary="Reject a release in a pod role the caller holds; it blocks promotion until that role approves again",
)
def reject(
    release: str,
    body: RejectionIn,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    return _decided(
        ws,
        caller,
        "pipeline.rejection.refused",
        release,
        lambda session: reviews.reject(session, caller.actor, release, body.role, body.reason),
    )


@router.post(
    "/releases/{release:path}/promote",
    summary="Promote a release; 409 with what is missing when its policy is not met",
    responses={409: {"description": "refused: the problem's `errors` list what is missing"}},
)
def promote(
    release: str,
    body: PromotionIn,
    request: Request,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
):
    decision = refusals.logged(
        ws,
        caller.actor,
        "pipeline.promotion.refused",
        release,
        lambda session: promotion.promote(session, caller.actor, ws.signer(), release, body.to),
        standing=refusals.release_standing(caller.actor, release),
    )
    if not decision.allowed:
        return problem_response(
            request,
            409,
            f"{release} cannot go to {body.to}: {len(decision.missing)} requirement(s) missing",
            errors=[str(m) for m in decision.missing],
        )
    return decision.as_dict()


@router.get("/releases/{release:path}", summary="A release and its decoded statements")
def show(
    release: str, _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        found = releases.get_release(session, release)
    return {
        **found.summary(),
        "statements": {s["predicateType"]: s["predicate"] for s in found.statements()},
    }


def _decided(ws: Workspace, caller: Principal, refused: str, release: str, decide) -> dict:
    """A decision on a release, its refusal logged as `refused` when the caller has standing
    (keel.pipeline.refusals), and its summary as the answer."""
    found = refusals.logged(
        ws,
        caller.actor,
        refused,
        release,
        decide,
        standing=refusals.release_standing(caller.actor, release),
    )
    return found.summary()
