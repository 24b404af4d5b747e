"""/api/v1/tokens: API tokens (admin only). A new token's secret is shown once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import admin, workspace
from keel.auth import Principal, create_token, list_tokens, revoke_tokens
from keel.workspace import Workspace

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenRequest(Body):
    user: str = Field(min_length=1, max_length=300, description="A User entity, e.g. user:alice")
    role: Literal["viewer", "editor", "admin"]
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    note: str = Field("", max_length=200)


@router.get("", summary="Live API tokens")
def tokens(_: Principal = Depends(admin), ws: Workspace = Depends(workspace)) -> dict[str, Any]:
    with ws.read() as session:
        return {"tokens": [t.as_dict() for t in list_tokens(session)]}


@router.post("", status_code=201, summary="Create a token; its secret is in this answer only")
def create(
    body: TokenRequest, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with ws.write(caller.actor) as session:
        info, secret = create_token(
            session, caller.actor, body.user, body.role, ttl=ttl, note=body.note
        )
    return {**info.as_dict(), "token": secret}


@router.delete("/{token_id}", summary="Revoke a token")
def revoke(
    token_id: str, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return {"revoked": revoke_tokens(session, caller.actor, token_id=token_id)}
