"""/api/v1/metrics: the control plane's own Prometheus figures (admin).

The counters live beside the answers they count (`keel.api.problems`): refusals by status,
and refusals of callers with no standing, which are counted instead of logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from keel.api.deps import admin
from keel.api.problems import registry
from keel.auth import Principal

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus figures of this control-plane process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(_: Principal = Depends(admin)) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
