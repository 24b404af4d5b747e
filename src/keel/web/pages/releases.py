"""The releases' pages: a system's releases and runs, one release with its evidence and
approvals, and its signed bundle for download."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from keel.auth import Principal
from keel.pipeline import promotion, releases
from keel.pipeline import runs as pipeline_runs
from keel.pipeline.policy import EvidenceFact, figure_checks
from keel.web.pages import names, page, page_router, session_principal, workspace

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
    people = [r.created_by for r in found] + [run.actor for run in runs]
    return page(
        request,
        "releases.html",
        who,
        names=names(request, [system], people),
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
        policies = promotion.standing(session, release).policies
    statements = {s["predicateType"]: s["predicate"] for s in release.statements()}
    recorded = [
        EvidenceFact(e["track"], e["check"], e["result"], e["figures"], e["createdAt"])
        for e in status["evidence"]
    ]
    people = [release.created_by, release.model]
    people += [e["actor"] for e in status["evidence"]] + [
        a["approver"] for a in status["approvals"]
    ]
    return page(
        request,
        "release.html",
        who,
        names=names(request, people, [p.key for p in policies]),
        policies=[p.key for p in policies],
        figures=figure_checks(policies, recorded),
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
