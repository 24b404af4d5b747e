"""Prometheus figures of the control plane: `/metrics`, and `/api/v1/metrics` (admin).

Two kinds, served together:
- this process's own counters, beside the answers they count (`keel.api.problems`): refusals
  by status, and refusals of callers with no standing, which are counted instead of logged;
- the workspace's figures, from the store, as each package declares them (`keel.metrics`;
  `COLLECTOR_MODULES` lists the modules): releases per environment, refusals the log
  records, approvals pending, readiness per system, worker job runs and failures.

`/metrics` is what a Prometheus server scrapes: readable without a token only from
loopback (127.0.0.0/8, ::1) when the request came straight to us (no `Forwarded` or
`X-Forwarded-For` header: a reverse proxy on the same host would otherwise make every
caller local), and otherwise with any valid API token as a bearer token.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from keel import metrics as declared
from keel.api.deps import admin
from keel.api.gate import CHALLENGE
from keel.api.problems import Problem, registry
from keel.auth import Principal, verify

log = logging.getLogger("keel.api")
router = APIRouter(tags=["metrics"])
public = APIRouter(tags=["metrics"])
COLLECTOR_MODULES = [
    "keel.audit.collectors",
    "keel.pipeline.collectors",
    "keel.readiness.collectors",
    "keel.worker.collectors",
]
FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


class StoreCollector:
    """Every declared collector, each over a read transaction of its own."""

    def __init__(self, ws) -> None:
        self.ws = ws

    def describe(self) -> list:
        return []  # nothing to check at registration: the families are built per scrape

    def collect(self):
        up = GaugeMetricFamily(
            "keel_metrics_collector_up",
            "1 when a package's collector answered this scrape, 0 when it failed.",
            labels=["collector"],
        )
        for found in declared.collectors():
            try:
                with self.ws.read() as session:
                    families = list(found.collect(session))
            except Exception:
                log.exception("the %s collector failed", found.name)
                up.add_metric([found.name], 0)
                continue
            up.add_metric([found.name], 1)
            yield from families
        yield up


def exposition(ws) -> bytes:
    for name in COLLECTOR_MODULES:
        importlib.import_module(name)
    store = CollectorRegistry()
    store.register(StoreCollector(ws))
    return generate_latest(registry) + generate_latest(store)


def _answer(request: Request) -> Response:
    return Response(exposition(request.app.state.workspace), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/metrics",
    summary="Prometheus figures of this control plane and its workspace",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, _: Principal = Depends(admin)) -> Response:
    return _answer(request)


@public.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    if not _local(request):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401, "/metrics needs a bearer token from outside this host", headers=CHALLENGE
            )
        with request.app.state.workspace.read() as session:
            caller = verify(session, token.strip(), kind="api")
        if caller is None:
            raise Problem(401, "unknown, expired or revoked token", headers=CHALLENGE)
    return _answer(request)


def _local(request: Request) -> bool:
    """A direct request from this host: a loopback peer, and no proxy's forwarding header."""
    if any(h in request.headers for h in FORWARDED) or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False
