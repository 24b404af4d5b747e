"""The releases' pages: a system's releases and runs, one release with its evidence,
approvals and review round (and, for its pod, the forms of `keel.web.pages.decisions`), and
its signed bundle for download."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from keel.auth import Principal, role_allows
from keel.catalog import pods
from keel.pipeline import promotion, releases, reviews
from keel.pipeline import runs as pipeline_runs
from keel.pipeline.environments import ENVIRONMENTS
from keel.pipeline.policy import EvidenceFact, figure_checks
from keel.web.pages import names, page, page_router, session_principal, workspace

router = page_router()
RUNS_SHOWN = 20
DONE = {  # the line shown after a decision's redirect (`?done=ACTION`)
    "request": "Approval requested.",
    "approve": "Approved.",
    "reject": "Rejected.",
    "promote": "Promoted.",
}


@router.get("/systems/{namespace}/{name}/releases")
def releases_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    """The risk lead's page for a system: what serves where, who approved it, on what evidence
    (each gated figure beside its threshold), and what each environment still lacks."""
    system = f"system:{namespace}/{name}"
    with workspace(request).read() as session:
        found = releases.list_releases(session, system)
        placed = promotion.where(session, system)
        runs = pipeline_runs.list_runs(session, system, RUNS_SHOWN)
        by_name = {r.name: r for r in found}
        serving = [
            {**row, **_governance(session, by_name[row["release"]])}
            for row in placed
            if row["release"] in by_name
        ]
        serves: dict[str, list[str]] = {}
        for row in placed:
            serves.setdefault(row["release"], []).append(row["environment"])
        newest = {r.model: r for r in found}  # ordered by model, then version: the last wins
        candidates = [  # the newest of each model, until it reaches production
            _governance(session, r)
            for r in newest.values()
            if "production" not in serves.get(r.name, [])
        ]
    people = [r.created_by for r in found] + [run.actor for run in runs]
    people += [a["approver"] for g in serving for a in g["status"]["approvals"]]
    policies = [key for g in [*serving, *candidates] for key in g["policies"]]
    return page(
        request,
        "releases.html",
        who,
        names=names(request, [system], people, policies),
        system=system,
        releases=list(reversed(found)),
        serves=serves,
        placed=placed,
        serving=serving,
        candidates=candidates,
        runs=runs,
    )


def _governance(session, release: releases.Release) -> dict[str, Any]:
    """A release's status (evidence, approvals, review round, what each environment lacks),
    its policies, and its figures beside their thresholds: what its pages show."""
    facts = promotion.standing(session, release)
    status = promotion.status(session, release, known=facts)
    policies = facts.policies
    recorded = [
        EvidenceFact(e["track"], e["check"], e["result"], e["figures"], e["createdAt"])
        for e in status["evidence"]
    ]
    return {
        "subject": release,
        "status": status,
        "policies": [p.key for p in policies],
        "figures": figure_checks(policies, recorded),
    }


@router.get("/releases/{namespace}/{name}")
def release_page(
    namespace: str,
    name: str,
    request: Request,
    done: str | None = Query(None, max_length=16),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    return release_view(request, who, f"model:{namespace}/{name}", notice=DONE.get(done or ""))


def release_view(
    request: Request, who: Principal, ref: str, *, status_code: int = 200, **outcome: Any
) -> HTMLResponse:
    """The release page; `outcome` is what a decision posted from it came to (`notice`, or
    `error` and the `refusal` list), shown above the decision forms."""
    with workspace(request).read() as session:
        release = releases.get_release(session, ref)
        governed = _governance(session, release)
        held = sorted(pods.roles_of(session, release.system or "", who.actor.id))
        state = reviews.state_of(session, release, who.actor.id)
    status, policies = governed["status"], governed["policies"]
    statements = {s["predicateType"]: s["predicate"] for s in release.statements()}
    people = [release.created_by, release.model]
    people += [e["actor"] for e in status["evidence"]] + [
        a["approver"] for a in status["approvals"]
    ]
    people += [r["rejecter"] for r in status["review"]["rejections"]]
    if status["review"]["requested"]:
        people.append(status["review"]["requested"]["by"])
    response = page(
        request,
        "release.html",
        who,
        names=names(request, people, policies),
        policies=policies,
        figures=governed["figures"],
        release=release,
        status=status,
        provenance=statements.get("https://slsa.dev/provenance/v1"),
        attested=statements.get("https://keel.dev/attestation/release/v1"),
        held=held,
        may_decide=bool(held) and role_allows(who.role, "editor"),
        state=state,
        environments=ENVIRONMENTS,
        **outcome,
    )
    response.status_code = status_code
    return response


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
