"""The web UI: server-rendered pages (one module per package under `pages/`), templates and
vendored static files (no CDN). `install(app)` adds them to the control plane's app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from keel.web.pages import HERE, auth, catalog, events, gateway, pods, readiness, releases

PAGES = (auth, catalog, pods, releases, readiness, events, gateway)
CSP = (
    # Cytoscape.js sets inline styles on its canvas container, hence 'unsafe-inline' for styles only.
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in PAGES:
        app.include_router(module.router)

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
