"""/api/v1/gateway: the gateway's routes and consumer keys (admin only; never on the gateway
port). A new key's secret is in the creating answer only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from keel.api.bodies import Body
from keel.api.deps import admin, workspace
from keel.auth import Principal
from keel.gateway import keys, routes
from keel.gateway.figures import traffic_figures
from keel.pipeline.environments import Environment
from keel.workspace import Workspace

LIMIT_MAX = 10**12  # a per-minute limit; past this, no limit at all is meant

router = APIRouter(prefix="/gateway", tags=["gateway"])
Operation = Literal["chat", "embeddings", "predict", "models"]


class RouteRequest(Body):
    endpoint: str = Field(min_length=1, max_length=300, description="An API of the map.")
    environment: Environment
    upstream: str = Field(min_length=1, max_length=1000, description="Base URL, e.g. .../v1")
    model: str | None = Field(None, max_length=200)
    rpm: int | None = Field(None, ge=1, le=LIMIT_MAX)
    tpm: int | None = Field(None, ge=1, le=LIMIT_MAX)
    timeout: float | None = Field(None, gt=0, le=3600)
    capture: bool = Field(False, description="Store redacted payloads in the traffic log.")
    credential_env: str | None = Field(
        None,
        max_length=128,
        description="The environment variable on the gateway's host holding the upstream's key.",
    )
    guard: dict[str, Any] | bool | None = Field(
        None,
        description='The guard policy (keel.guard\'s format, e.g. {"output": {"pii": '
        '"block"}}); null: the default policy; false: no guard on this route.',
    )
    limits_fail: Literal["closed", "open"] = Field(
        "closed",
        description="When the rate-limit store is down: closed refuses (503), open serves "
        "the request unchecked.",
    )
    allow_ungoverned: bool = Field(
        False,
        description="Production only: serve while the API's model has no release promoted "
        "to production, recording each request as ungoverned (default: refuse, 403 "
        "ungoverned_endpoint).",
    )


class KeyRequest(Body):
    consumer: str = Field(min_length=1, max_length=200)
    endpoints: list[str] = Field(min_length=1, max_length=100)
    environment: Environment
    operations: list[Operation] | None = None
    rpm: int | None = Field(None, ge=1, le=LIMIT_MAX)
    tpm: int | None = Field(None, ge=1, le=LIMIT_MAX)
    expires_in_minutes: int | None = Field(None, ge=1, le=60 * 24 * 3650)


@router.get("/routes", summary="Routes: endpoint x environment -> upstream")
def list_routes(_: Principal = Depends(admin), ws: Workspace = Depends(workspace)) -> dict:
    with ws.read() as session:
        return {"routes": [r.as_dict() for r in routes.list_routes(session)]}


@router.put("/routes", summary="Create or replace a route")
def set_route(
    body: RouteRequest, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        route = routes.set_route(
            session,
            caller.actor,
            body.endpoint,
            body.environment,
            body.upstream,
            model=body.model,
            rpm=body.rpm,
            tpm=body.tpm,
            timeout=body.timeout,
            capture=body.capture,
            credential_env=body.credential_env,
            guard=body.guard,
            limits_fail=body.limits_fail,
            allow_ungoverned=body.allow_ungoverned,
        )
    return route.as_dict()


@router.delete("/routes", summary="Remove a route")
def remove_route(
    endpoint: str = Query(..., max_length=300),
    environment: Environment = Query(...),
    caller: Principal = Depends(admin),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        routes.remove_route(session, caller.actor, endpoint, environment)
    return {"removed": {"endpoint": endpoint, "environment": environment}}


@router.get("/keys", summary="Live consumer keys (never their secrets)")
def list_keys(_: Principal = Depends(admin), ws: Workspace = Depends(workspace)) -> dict:
    with ws.read() as session:
        return {"keys": [k.as_dict() for k in keys.list_keys(session)]}


@router.post("/keys", status_code=201, summary="Create a key; its secret is in this answer only")
def create_key(
    body: KeyRequest, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    ttl = timedelta(minutes=body.expires_in_minutes) if body.expires_in_minutes else None
    with ws.write(caller.actor) as session:
        key, secret = keys.create_key(
            session,
            caller.actor,
            body.consumer,
            body.endpoints,
            body.environment,
            operations=list(body.operations) if body.operations else None,
            rpm=body.rpm,
            tpm=body.tpm,
            ttl=ttl,
        )
    return {**key.as_dict(), "key": secret}


@router.delete("/keys/{key_id}", summary="Revoke a key")
def revoke_key(
    key_id: str, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return {"revoked": keys.revoke_keys(session, caller.actor, key=key_id)}


@router.delete("/consumers/{consumer}/keys", summary="Revoke every live key of a consumer")
def revoke_consumer(
    consumer: str, caller: Principal = Depends(admin), ws: Workspace = Depends(workspace)
) -> dict[str, Any]:
    with ws.write(caller.actor) as session:
        return {"revoked": keys.revoke_keys(session, caller.actor, consumer=consumer)}


@router.get("/traffic", summary="Live figures from the newest traffic-log events")
def traffic(
    window: int = Query(300, ge=10, le=86_400),
    _: Principal = Depends(admin),
    ws: Workspace = Depends(workspace),
) -> dict[str, Any]:
    with ws.read() as session:
        return traffic_figures(session, window=window)
