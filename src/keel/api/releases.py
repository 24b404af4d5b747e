"""/api/v1/releases: model releases, their signed attestation bundles, ML-BOMs, verification."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from keel.api.deps import viewer, workspace
from keel.api.problems import Problem
from keel.audit.attest import MAX_BUNDLE
from keel.auth import Principal
from keel.pipeline import releases
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
    body = await request.body()
    if len(body) > MAX_BUNDLE:
        raise Problem(413, f"a bundle is at most {MAX_BUNDLE // 2**20} MiB")
    with ws.read() as session:
        result = releases.verify_file(session, body, artifact_digest=artifact_digest)
    return {
        "verified": result.ok,
        "subject": result.subject,
        "release": (result.release or {}).get("release"),
        "checks": result.checks,
        "problems": result.problems,
    }


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
