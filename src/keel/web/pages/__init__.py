"""The web UI's pages, one module per package as `keel.api` has one router per package.

What every page shares lives here: the templates, the session check, rendering, the graph
snapshot, and `PageRoute`, the one place an error becomes a page. A page raises the error
the service raised (NotFoundError, PermissionDenied, any KeelError) and the page for it has
the error's own status and title and the navigation bar; no page catches errors itself.

Pages authenticate with the `keel_session` cookie (HttpOnly, SameSite=Lax), which a login
sets (see `keel.web.pages.auth`). No long-lived secret ever sits in a URL. Every form that
changes something carries `csrf_token(request)`, a MAC of the session cookie that a page of
another site can neither read nor compute, and is also checked for our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from keel.auth import Principal, verify
from keel.catalog.graph import Node
from keel.catalog.queries import display_names
from keel.errors import KeelError, PermissionDenied
from keel.web import present, views
from keel.workspace import Workspace

HERE = Path(__file__).parent.parent
COOKIE = "keel_session"
templates = Jinja2Templates(directory=HERE / "templates")
present.install(templates.env)


class LoginRequired(Exception):
    """Raised by pages when the browser has no valid session: a redirect to /login."""


class PageRoute(APIRoute):
    """A page's route: no session is a redirect to the login, a KeelError is an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return RedirectResponse("/login", status_code=303)
            except KeelError as exc:
                return error_page(request, exc.http_status, str(exc))

        return route


def page_router() -> APIRouter:
    return APIRouter(include_in_schema=False, route_class=PageRoute)


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def session_principal(request: Request) -> Principal:
    """The browser's user, from its session cookie; LoginRequired when it has none."""
    found = _session(request)
    if found is None:
        raise LoginRequired
    return found


def _session(request: Request) -> Principal | None:
    with workspace(request).read() as session:
        found = verify(session, request.cookies.get(COOKIE), kind="session")
        if found is not None:  # the header names the user as people know them
            request.state.who_name = display_names(session, [found.actor.id]).get(found.actor.id)
        return found


def page(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
    who_name = getattr(request.state, "who_name", None)
    shared = {"who": who, "who_name": who_name, "csrf": csrf_token(request) if who else ""}
    return templates.TemplateResponse(request, name, {**shared, **context})


def csrf_token(request: Request) -> str:
    """The form token of this browser's session: HMAC-SHA256 keyed by the session secret."""
    secret = (request.cookies.get(COOKIE) or "").encode()
    return hmac.new(secret, b"keel-web-form", hashlib.sha256).hexdigest()


def check_csrf(request: Request, given: object) -> None:
    """PermissionDenied unless `given` is this session's form token."""
    if (
        not isinstance(given, str)
        or not request.cookies.get(COOKIE)
        or not hmac.compare_digest(given.encode(), csrf_token(request).encode())
    ):
        raise PermissionDenied("this form has no valid token: reload the page and try again")


def names(request: Request, *groups: Iterable[str | None]) -> dict[str, str]:
    """The display names of the entities among `groups` of references, for `entity(ref)`."""
    wanted = {ref for group in groups for ref in group if ref}
    with workspace(request).read() as session:
        return display_names(session, wanted)


@dataclass(frozen=True)
class Found:
    """The entity a page's path names (`/entities/{kind}/{namespace}/{name}...`)."""

    snap: views.Snapshot
    key: str

    @property
    def node(self) -> Node:
        return self.snap.graph.nodes[self.key]


def entity_in_path(kind: str, namespace: str, name: str, request: Request) -> Found:
    """A dependency: the entity of the path, from the snapshot; NotFoundError otherwise."""
    snap = snapshot(request)
    return Found(snap, existing(snap, f"{kind}:{namespace}/{name}"))


def error_page(request: Request, status: int, detail: str, *, session: bool = True) -> HTMLResponse:
    """The page for every error status, with the navigation bar when there is a session."""
    response = page(
        request,
        "error.html",
        _session(request) if session else None,
        status=status,
        title=HTTPStatus(status).phrase.capitalize(),  # "Not found", "Forbidden"
        detail=detail,
    )
    response.status_code = status
    return response


def snapshot(request: Request) -> views.Snapshot:
    with workspace(request).read() as session:
        return views.snapshot(session, str(id(request.app)))


def existing(snap: views.Snapshot, ref: str) -> str:
    """The key of an entity of the snapshot; NotFoundError otherwise."""
    return snap.graph.resolve(ref).key


def script_json(data: Any) -> str:
    """JSON safe inside <script>: no '<', so no '</script>' can close the tag early."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
