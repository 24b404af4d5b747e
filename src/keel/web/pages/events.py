"""The events' pages: the audit log with its filters (action, subject, actor, time), a
node's history (the same page with its subject set), and one event with its inclusion
proof against the latest checkpoint.

The filters are applied in the store by `keel.audit.list_events`, newest first, a page at a
time: `before` (a seq) pages back. Times are UTC; a time without a zone is read as UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from keel import audit
from keel.audit import checkpoints, merkle
from keel.audit import log as audit_log
from keel.audit.events import actions as recorded_actions
from keel.auth import Principal
from keel.catalog.refs import parse_ref
from keel.errors import NotFoundError
from keel.web import views
from keel.web.pages import (
    Found,
    entity_in_path,
    names,
    page,
    page_router,
    session_principal,
    workspace,
)

router = page_router()
PAGE_SIZE = 50  # events per page, newest first
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class Filters:
    """The audit page's filters as typed (for the form and the links) and as the store
    reads them (`query`)."""

    action: str = ""
    subject: str = ""
    actor: str = ""
    since: str = ""
    until: str = ""

    def query(self) -> dict[str, Any]:
        """`list_events` keyword arguments; ValueError with one line per bad filter."""
        problems, out = [], {}
        try:
            out["subject"] = subject_key(self.subject) if self.subject else None
        except ValueError as exc:
            problems.append(f"subject: {exc}")
        try:
            out["actor"] = actor_key(self.actor) if self.actor else None
        except ValueError as exc:
            problems.append(f"actor: {exc}")
        for name in ("since", "until"):
            try:
                out[name] = utc_time(getattr(self, name)) if getattr(self, name) else None
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        if out.get("since") and out.get("until") and out["since"] >= out["until"]:
            problems.append("until: must be later than since")
        if problems:
            raise ValueError("\n".join(problems))
        return {**out, "action": self.action or None}

    def link(self, **more: Any) -> str:
        given = {k: v for k, v in {**asdict(self), **more}.items() if v not in ("", None)}
        return "/events" + (f"?{urlencode(given)}" if given else "")


def subject_key(text: str) -> str:
    """An entity reference as the log stores it (`model:default/x`), or a named subject
    (`workspace`, `gateway`) as typed."""
    text = text.strip()
    return parse_ref(text).key if ":" in text else text


def actor_key(text: str) -> str:
    ref = parse_ref(text.strip(), default_kind="user")
    if ref.kind.lower() != "user":
        raise ValueError(f"{text!r} is not a user")
    return ref.key


def utc_time(text: str) -> str:
    """An ISO 8601 time as events write theirs (UTC, microseconds, Z), so they compare as
    strings; no zone means UTC. ValueError with a one-line reason otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time such as 2026-12-03T17:30 (UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


@router.get("/events")
def audit_page(
    request: Request,
    action: str = Query("", max_length=64),
    subject: str = Query("", max_length=300),
    actor: str = Query("", max_length=300),
    since: str = Query("", max_length=40),
    until: str = Query("", max_length=40),
    before: int | None = Query(None, ge=1, le=MAX_SEQ),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    return _events(request, who, Filters(action, subject, actor, since, until), before)


@router.get("/entities/{kind}/{namespace}/{name}/events")
def node_events(
    request: Request,
    found: Found = Depends(entity_in_path),
    before: int | None = Query(None, ge=1, le=MAX_SEQ),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    return _events(request, who, Filters(subject=found.key), before, node=found)


def _events(
    request: Request,
    who: Principal,
    filters: Filters,
    before: int | None,
    node: Found | None = None,
) -> HTMLResponse:
    try:
        query = filters.query()
    except ValueError as exc:
        response = _page(request, who, filters, node, problems=str(exc).splitlines())
        response.status_code = 422
        return response
    with workspace(request).read() as session:
        found = audit.list_events(session, **query, before=before, limit=PAGE_SIZE + 1)
        actions = recorded_actions(session)
    shown = found[-PAGE_SIZE:][::-1]  # newest first
    first = f"{views.href(node.key)}/events" if node else filters.link()  # a node's stays its own
    older = None
    if len(found) > PAGE_SIZE:
        older = f"{first}?before={shown[-1].seq}" if node else filters.link(before=shown[-1].seq)
    return _page(
        request,
        who,
        filters,
        node,
        events=[{"event": e, "summary": views.event_summary(e)} for e in shown],
        actions=actions,
        older=older,
        newest=first if before else None,
        names=names(request, [e.actor.get("id") for e in shown], [e.subject for e in shown]),
    )


def _page(
    request: Request, who: Principal, filters: Filters, node: Found | None, **context: Any
) -> HTMLResponse:
    return page(
        request,
        "events.html",
        who,
        filters=filters,
        node=node.node if node else None,
        key=node.key if node else None,
        **{"events": [], "actions": [], "older": None, "newest": None, "problems": []} | context,
    )


@router.get("/events/{seq}")
def event_page(
    request: Request,
    seq: int = Path(ge=1, le=MAX_SEQ),
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
        names=names(request, [found[0].actor.get("id"), found[0].subject]),
    )
