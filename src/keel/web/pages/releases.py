"""The releases' pages: a system's releases and runs, one release with its evidence and
approvals, and its signed bundle for download."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from keel.auth import Principal
from keel.pipeline import promotion, releases
from keel.pipeline import runs as pipeline_runs
from keel.web.pages import page, page_router, session_principal, workspace

router = page_router()
RUNS_SHOWN = 20


@router.get("/systems/{namespace}/{name}/releases")
def releases_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    system = f"system:{namespace}/{name}"
    with workspace(request).read() as session:
        found = releases.list_releases(session, system)
        placed = promotion.where(session, system)
        runs = pipeline_runs.list_runs(session, system, RUNS_SHOWN)
    serves: dict[str, list[str]] = {}
    for row in placed:
        serves.setdefault(row["release"], []).append(row["environment"])
    return page(
        request,
        "releases.html",
        who,
        system=system,
        releases=list(reversed(found)),
        serves=serves,
        placed=placed,
        runs=runs,
    )


@router.get("/releases/{namespace}/{name}")
def release_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    with workspace(request).read() as session:
        release = releases.get_release(session, f"model:{namespace}/{name}")
        status = promotion.status(session, release)
    statements = {s["predicateType"]: s["predicate"] for s in release.statements()}
    return page(
        request,
        "release.html",
        who,
        release=release,
        status=status,
        provenance=statements.get("https://slsa.dev/provenance/v1"),
        attested=statements.get("https://keel.dev/attestation/release/v1"),
    )


@router.get("/releases/{namespace}/{name}/bundle")
def release_bundle(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> Response:
    with workspace(request).read() as session:
        release = releases.get_release(session, f"model:{namespace}/{name}")
    return Response(
        release.bundle,
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{name}.intoto.jsonl"'},
    )
