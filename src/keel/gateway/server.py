"""Running a gateway process: the traffic port (uvicorn + uvloop + httptools) and the admin
port (aiohttp: GET /metrics for Prometheus, GET /healthz), wired to the workspace.

`build` assembles the parts (config watcher, limiter, traffic journal and log, metrics,
breaker) into a `Gateway`; `run` serves it, in this process or, with `workers` > 1, in
that many worker processes under a supervisor (`keel.gateway.workers.run`). Starting, a gateway
first recovers the traffic records of any gateway on this home that was killed before it
could store them (`journal.recover`). Keys and routes are managed on the control plane,
never here.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

import orjson
from aiohttp import web

from keel.config import Settings
from keel.gateway.anomaly import Detector
from keel.gateway.app import MAX_BODY, TIMEOUT, Gateway
from keel.gateway.breaker import Breaker
from keel.gateway.guards import guard_hooks
from keel.gateway.journal import Journal, folder_of, recover
from keel.gateway.metrics import Metrics
from keel.gateway.ratelimit import TIMEOUT as REDIS_TIMEOUT
from keel.gateway.ratelimit import Limiter
from keel.gateway.traffic import TrafficLog
from keel.gateway.watch import INTERVAL, Watcher
from keel.workspace import Workspace, open_workspace

DEFAULT_PORT = 8401
DEFAULT_ADMIN_PORT = 8402
logger = logging.getLogger("keel.gateway")
# how uvicorn serves a gateway, in one process or in each worker
UVICORN = dict(
    loop="uvloop",
    http="httptools",
    lifespan="on",
    access_log=False,
    log_level="warning",
    timeout_keep_alive=30,
)


def build(
    ws: Workspace,
    *,
    host: str = "127.0.0.1",
    admin_port: int | None = DEFAULT_ADMIN_PORT,
    redis_url: str | None = None,
    redis_timeout: float = REDIS_TIMEOUT,
    interval: float = INTERVAL,
    max_body: int = MAX_BODY,
    timeout: float = TIMEOUT,
    traffic_interval: float = 0.5,
    anomaly: str = "alert",
    admin_host: str | None = None,
    on_started: Callable[[int | None], None] | None = None,
) -> Gateway:
    """`admin_port` None: no admin port; 0: any free one. `on_started(admin port)` runs
    once the gateway is ready (a worker tells its supervisor so)."""
    metrics = Metrics()
    journal: Journal | None = None

    def stored(written: int, dropped: int) -> None:
        metrics.traffic(written, dropped)
        if journal is not None:
            journal.stored(written, dropped)

    def loaded(snapshot) -> None:
        metrics.config_version.set(snapshot.version)
        metrics.config_reloads.inc()

    watcher = Watcher(ws, interval=interval, on_load=loaded)
    traffic = TrafficLog(ws, interval=traffic_interval, on_write=stored)
    journal = Journal(folder_of(ws), traffic)
    runner: web.AppRunner | None = None

    async def startup() -> None:
        nonlocal runner
        journal.open()
        try:
            await asyncio.to_thread(recover, ws, journal)
        except Exception as exc:  # the store is down: a later start recovers them
            logger.warning("gateway: cannot recover a killed gateway's traffic records: %s", exc)
        watcher.start()
        traffic.start()
        bound = None
        if admin_port is not None:
            runner = web.AppRunner(_admin_app(metrics, watcher, traffic), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, admin_host or host, admin_port).start()
            bound = runner.addresses[0][1]
        if on_started is not None:
            on_started(bound)

    async def shutdown() -> None:
        await watcher.stop()
        if runner is not None:
            await runner.cleanup()
        await asyncio.to_thread(traffic.close)
        journal.close()

    return Gateway(
        watcher.snapshot,
        limiter=Limiter(redis_url, timeout=redis_timeout),
        traffic=journal,
        metrics=metrics,
        breaker=Breaker(),
        hooks=guard_hooks(),
        detector=Detector(mode=anomaly),
        max_body=max_body,
        timeout=timeout,
        startup=startup,
        shutdown=shutdown,
    )


def _admin_app(metrics: Metrics, watcher: Watcher, traffic: TrafficLog) -> web.Application:
    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(
            body=metrics.render(), headers={"content-type": "text/plain; version=0.0.4"}
        )

    async def healthz(_: web.Request) -> web.Response:
        snapshot = watcher.snapshot()
        body = {
            "status": "ok",
            "config_version": snapshot.version,
            "keys": len(snapshot.keys),
            "routes": len(snapshot.routes),
            "traffic_pending": traffic.pending(),
            "traffic_written": traffic.written,
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/healthz", healthz)
    return app


def run(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    admin_port: int | None = DEFAULT_ADMIN_PORT,
    redis_url: str | None = None,
    redis_timeout: float = REDIS_TIMEOUT,
    interval: float = INTERVAL,
    max_body: int = MAX_BODY,
    timeout: float = TIMEOUT,
    anomaly: str = "alert",
) -> None:
    """Serve in this process until SIGTERM or SIGINT (`keel.gateway.workers.run` for more)."""
    redis_url = redis_url or os.environ.get("KEEL_REDIS_URL") or None
    import uvicorn

    ws = open_workspace(settings)
    try:
        app = build(
            ws,
            host=host,
            admin_port=admin_port,
            redis_url=redis_url,
            redis_timeout=redis_timeout,
            interval=interval,
            max_body=max_body,
            timeout=timeout,
            anomaly=anomaly,
        )
        uvicorn.run(app, host=host, port=port, **UVICORN)
    finally:
        ws.close()
