"""The door in front of every request: who is calling, and how much they may send, decided
before a byte of the body is read (ASGI middleware, one class).

- `/api/v1/*` (but its OpenAPI document): the bearer token is verified first. Without a
  valid one the answer is 401 and the body is never read; the verified caller is handed to
  the endpoints (`request.state.principal`, read by `keel.api.deps`).
- Deny by default: every method but GET and HEAD needs at least the editor role, except the
  few POSTs listed in READS that change nothing; an endpoint that declares more (admin,
  through `keel.api.deps.require`) gets it checked here too, before its body is read.
- Bodies are capped: an unauthenticated request (the web's login forms) may send
  `FORM_CAP`, an API caller `API_CAP`, or the larger cap of the endpoints in CAPS. A declared
  length over the cap is refused at once, a streamed body as soon as it passes the cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keel.api.problems import problem
from keel.audit.attest import MAX_BUNDLE
from keel.auth import ROLES, Principal, role_allows, verify

API = "/api/v1"
OPEN = frozenset({f"{API}/openapi.json"})
READS = frozenset({("POST", f"{API}/attestations/verify")})  # verifying writes nothing
WRITER = "editor"
FORM_CAP = 16 * 1024  # a login form carries a token or a code
API_CAP = 1024 * 1024
APPLY_CAP = 2 * 1024 * 1024  # parsing YAML costs ~30x its size in memory: a few thousand entities
CAPS = {f"{API}/apply": APPLY_CAP, f"{API}/attestations/verify": MAX_BUNDLE}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="keel"'}


def _size(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024 * 1024 else f"{size // (1024 * 1024)} MiB"


@dataclass(frozen=True)
class Declared:
    path: re.Pattern[str]
    methods: frozenset[str]
    role: str


class Gate:
    def __init__(self, app: ASGIApp, roles: list[Declared]) -> None:
        self.app = app
        self.roles = roles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = Headers(scope=scope)
        cap = FORM_CAP
        if path.startswith(f"{API}/") and path not in OPEN:
            token = _bearer(headers.get("authorization"))
            caller = await run_in_threadpool(_verify, scope, token) if token else None
            needed = _needed(self.roles, scope["method"], path)
            refusal = _refusal(scope["method"], path, token, caller, needed)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = caller
            cap = CAPS.get(path, API_CAP)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await problem(413, f"the body is over {_size(cap)}", path)(scope, receive, send)
            return
        await self.app(scope, _capped(receive, cap), send)


def _refusal(
    method: str, path: str, token: str | None, caller: Principal | None, needed: str | None
) -> Response | None:
    """The answer to a caller who may not go further, or None."""
    if token is None:
        detail = "missing bearer token (Authorization: Bearer <token>)"
        return problem(401, detail, path, headers=CHALLENGE)
    if caller is None:
        return problem(401, "unknown, expired or revoked token", path, headers=CHALLENGE)
    writes = method not in ("GET", "HEAD") and (method, path) not in READS
    for role, why in ((WRITER if writes else None, "writing"), (needed, "this")):
        if role is not None and not role_allows(caller.role, role):
            detail = f"{why} needs the {role} role; the token has {caller.role}"
            return problem(403, detail, path)
    return None


def declared_roles(routers: Iterable[APIRouter], prefix: str) -> list[Declared]:
    """What each route's dependencies ask for (`keel.api.deps.require`), as the gate reads it."""
    table = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and (role := _declared(route.dependant)):
                regex = compile_path(prefix + route.path)[0]
                table.append(Declared(regex, frozenset(route.methods), role))
    return table


def _needed(roles: list[Declared], method: str, path: str) -> str | None:
    for declared in roles:
        if method in declared.methods and declared.path.match(path):
            return declared.role
    return None


def _declared(dependant: Dependant | None) -> str | None:
    if dependant is None:
        return None
    own = getattr(dependant.call, "role", None)
    found = [r for r in (_declared(d) for d in dependant.dependencies) if r]
    roles = [own, *found] if own else found
    return max(roles, key=ROLES.index) if roles else None


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _verify(scope: Scope, token: str) -> Principal | None:
    with scope["app"].state.workspace.read() as session:
        return verify(session, token, kind="api")  # not sessions, not login codes


def _capped(receive: Receive, cap: int) -> Receive:
    """`receive`, refusing a body (declared or streamed) that grows past `cap` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, f"the body is over {_size(cap)}")
        return message

    return wrapped
