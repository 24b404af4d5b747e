"""/api/v1/events: the audit record, filtered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from keel import audit
from keel.api.deps import viewer, workspace
from keel.api.problems import Problem
from keel.auth import Principal
from keel.catalog.refs import parse_ref
from keel.workspace import Workspace

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", summary="Events, oldest first (the newest `limit`)")
def list_events(
    subject: str | None = Query(None, max_length=300),
    actor: str | None = Query(None, max_length=300, description="A user reference."),
    since: datetime | None = Query(None, description="ISO time; UTC when no zone is given."),
    limit: int = Query(100, ge=1, le=10_000),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    try:
        subject_key = parse_ref(subject).key if subject and ":" in subject else subject
        actor_ref = parse_ref(actor, default_kind="user") if actor else None
        if actor_ref is not None and actor_ref.kind.lower() != "user":
            raise ValueError(f"actor: {actor!r} is not a user")
        actor_key = actor_ref.key if actor_ref else None
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    since_text = None
    if since is not None:
        moment = since if since.tzinfo else since.replace(tzinfo=UTC)
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+14:00 is before the first representable time
            raise Problem(422, f"since: {since.isoformat()} is out of range") from None
        since_text = utc.isoformat(timespec="microseconds").replace("+00:00", "Z")
    with ws.read() as session:
        events = audit.list_events(
            session, subject=subject_key, actor=actor_key, since=since_text, limit=limit
        )
    return {"events": [e.record() for e in events]}
