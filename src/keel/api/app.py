"""The ASGI app: API routers, the web UI, health, problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from keel.api import (
    audit,
    catalog,
    events,
    gateway,
    incidents,
    map,
    metrics,
    pipeline,
    pods,
    problems,
    readiness,
    releases,
    schedule,
    subscriptions,
    tokens,
    workspace,
)
from keel.api.deps import known_query
from keel.api.gate import API, Gate, declared_roles
from keel.config import Settings
from keel.version import __version__
from keel.workspace import Workspace, open_workspace


def create_app(settings: Settings | None = None, *, ws: Workspace | None = None) -> FastAPI:
    """The control plane for a workspace (opened from `settings` unless given)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = ws is None
        app.state.workspace = ws or open_workspace(settings)  # type: ignore[arg-type]
        if own:  # a long-running process: its unsigned tail is signed every second
            app.state.workspace.start_sealing()
        try:
            yield
        finally:
            if own:
                app.state.workspace.close()  # stops sealing and signs the rest

    app = FastAPI(
        title="Keel control plane",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # Swagger UI would load from a CDN; the OpenAPI JSON is enough
        redoc_url=None,
        lifespan=lifespan,
    )
    if ws is not None:  # usable without running the lifespan (tests, in-process clients)
        app.state.workspace = ws
    problems.install(app)
    routers = [
        module.router
        for module in (
            catalog,
            map,
            pods,
            events,
            audit,
            releases,
            pipeline,
            readiness,
            subscriptions,
            tokens,
            workspace,
            gateway,
            incidents,
            metrics,
            schedule,
        )
    ]
    api = APIRouter(prefix=API, dependencies=[Depends(known_query)])
    for router in routers:
        api.include_router(router)
    # outermost but for errors: callers and their roles are checked before a body is read
    app.add_middleware(Gate, roles=declared_roles(routers, API))
    app.include_router(api)
    app.include_router(metrics.public)  # /metrics, for Prometheus (keel.api.metrics)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from keel import web

    web.install(app)
    return app
