"""The web UI: server-rendered pages (one module per package under `pages/`), templates and
vendored static files (no CDN). `install(app)` adds them to the control plane's app."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from keel.web.pages import (
    HERE,
    auth,
    catalog,
    decisions,
    error_page,
    events,
    gateway,
    incidents,
    pods,
    readiness,
    releases,
)

PAGES = (auth, catalog, pods, releases, decisions, readiness, events, gateway, incidents)
CSP = (
    # Cytoscape.js sets inline styles on its canvas container, hence 'unsafe-inline' for styles only.
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in PAGES:
        app.include_router(module.router)

    _browser_errors(app)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        if not request.url.path.startswith("/api/"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            # same-origin, not no-referrer: with no-referrer a browser posts our own forms
            # with `Origin: null`, which the login forms must refuse (login CSRF)
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _browser_errors(app: FastAPI) -> None:
    """Outside /api/ an error is a page (error.html), whoever raised it: an unknown path, a
    bad query parameter, a crash. Under /api/ the API's problem documents stay."""
    for kind in (HTTPException, RequestValidationError, Exception):
        api_handler = app.exception_handlers[kind]

        async def handler(request: Request, exc: Exception, api_handler=api_handler):
            answer = await api_handler(request, exc)  # logs and counts, as for the API
            if request.url.path.startswith("/api/"):
                return answer
            detail = json.loads(answer.body).get("detail", "")
            try:
                return error_page(request, answer.status_code, detail)
            except Exception:  # the store itself may be what failed: no navigation bar then
                return error_page(request, answer.status_code, detail, session=False)

        app.add_exception_handler(kind, handler)
