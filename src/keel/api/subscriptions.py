"""/api/v1/subscriptions: notification subscriptions (editor or admin to change them) and
the deliveries they were owed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import editor, viewer, workspace
from keel.auth import Principal
from keel.notifications import STATUSES, deliveries, list_subscriptions, remove, subscribe
from keel.notifications.targets import control_plane
from keel.workspace import Workspace

router = APIRouter(prefix="/subscriptions", tags=["notifications"])


class SubscriptionRequest(Body):
    event: str = Field(min_length=1, max_length=300, description="An event type or alias.")
    subject: str | None = Field(None, max_length=300, description="An entity ref or a prefix.")
    webhook: str | None = Field(None, max_length=2000, description="An http(s) URL.")
    secret_ref: str | None = Field(
        None, max_length=500, description="The signing key: env:NAME or file:/path."
    )
    email: str | None = Field(None, max_length=254)
    recipients: bool = Field(
        False,
        description="Mail each person the event names as a recipient (an approval request's "
        "pod members), at spec.profile.email of their User.",
    )


def _own(request: Request, ws: Workspace) -> set[tuple[str, int]]:
    """The control plane's origins: as configured, as bound, and as this request named it."""
    server = request.scope.get("server")
    bound = (server[0], server[1]) if server and server[1] else None
    settings = ws.settings
    return control_plane(settings.public_url, settings.url, str(request.base_url), bound=bound)


@router.get("", summary="Live subscriptions")
def subscriptions(
    _: Principal = Depends(viewer), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.read() as session:
        return {"subscriptions": [s.as_dict() for s in list_subscriptions(session)]}


@router.post("", status_code=201, summary="Subscribe a webhook or an e-mail address")
def create(
    body: SubscriptionRequest,
    request: Request,
    caller: Principal = Depends(editor),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    own = _own(request, ws)
    with ws.write(caller.actor) as session:
        made = subscribe(session, caller.actor, own=own, **body.model_dump())
    return made.as_dict()


@router.delete("/{subscription_id}", summary="End a subscription")
def delete(
    subscription_id: str, caller: Principal = Depends(editor), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return remove(session, caller.actor, subscription_id).as_dict()


@router.get("/deliveries", summary="Deliveries, newest first")
def list_deliveries(
    status: str | None = Query(None, description=f"One of {', '.join(STATUSES)}."),
    subscription: str | None = Query(None, max_length=32),
    limit: int = Query(100, ge=1, le=10_000),
    _: Principal = Depends(viewer),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.read() as session:
        found = deliveries(session, status=status, subscription=subscription, limit=limit)
    return {"deliveries": [d.as_dict() for d in found]}
