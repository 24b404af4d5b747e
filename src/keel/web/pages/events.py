"""The events' pages: a node's history, and one event with its inclusion proof against the
latest checkpoint."""

from __future__ import annotations

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse

from keel import audit
from keel.audit import checkpoints, merkle
from keel.audit import log as audit_log
from keel.auth import Principal
from keel.errors import NotFoundError
from keel.web.pages import existing, page, page_router, session_principal, snapshot, workspace

router = page_router()
HISTORY = 500  # events shown on a node's history page, newest first


@router.get("/entities/{kind}/{namespace}/{name}/events")
def node_events(
    kind: str,
    namespace: str,
    name: str,
    request: Request,
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    snap = snapshot(request)
    key = existing(snap, f"{kind}:{namespace}/{name}")
    with workspace(request).read() as session:
        events = audit.list_events(session, subject=key, limit=HISTORY)
    return page(
        request,
        "events.html",
        who,
        node=snap.graph.nodes[key],
        key=key,
        events=list(reversed(events)),
    )


@router.get("/events/{seq}")
def event_page(
    request: Request,
    seq: int = Path(ge=1, le=2**63 - 1),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    with workspace(request).read() as session:
        found = audit.list_events(session, seq=seq)
        if not found:
            raise NotFoundError(f"no event {seq}")
        latest = checkpoints.latest(session)
        proof = audit_log.inclusion(session, seq) if latest and seq <= latest.size else None
    verdict = None
    if proof is not None:
        try:
            merkle.verify_inclusion(
                seq - 1, proof.size, merkle.leaf_hash(found[0].body), proof.hashes, latest.root
            )
            verdict = "verified"
        except merkle.ProofError as exc:
            verdict = f"does not verify: {exc}"
    return page(
        request,
        "event.html",
        who,
        event=found[0],
        body=found[0].body.decode(),
        leaf=merkle.leaf_hash(found[0].body).hex(),
        proof=proof,
        checkpoint=latest,
        verdict=verdict,
    )
