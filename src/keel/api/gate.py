"""The door in front of every request: who is calling, and how much they may send, decided
before a byte of the body is read (ASGI middleware, one class).

- `/api/v1/*` (but its OpenAPI document): the bearer token is verified first. Without a
  valid one the answer is 401 and the body is never read; the verified caller is handed to
  the endpoints (`request.state.principal`, read by `keel.api.deps`).
- Deny by default: every method but GET and HEAD needs at least the editor role, except the
  few POSTs listed in READS that change nothing. Endpoints may ask for more (admin).
- Bodies are capped: an unauthenticated request (the web's login forms) may send
  `FORM_CAP`, an API caller `API_CAP`, or the larger cap of the endpoints in CAPS. A declared
  length over the cap is refused at once, a streamed body as soon as it passes the cap.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keel.api.problems import problem
from keel.audit.attest import MAX_BUNDLE
from keel.auth import Principal, role_allows, verify

API = "/api/v1"
OPEN = frozenset({f"{API}/openapi.json"})
READS = frozenset({("POST", f"{API}/attestations/verify")})  # verifying writes nothing
WRITER = "editor"
FORM_CAP = 16 * 1024  # a login form carries a token or a code
API_CAP = 1024 * 1024
CAPS = {f"{API}/apply": 32 * 1024 * 1024, f"{API}/attestations/verify": MAX_BUNDLE}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="keel"'}


def _mib(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024 * 1024 else f"{size // (1024 * 1024)} MiB"


class Gate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        headers = Headers(scope=scope)
        cap = FORM_CAP
        if path.startswith(f"{API}/") and path not in OPEN:
            token = _bearer(headers.get("authorization"))
            if token is None:
                refusal = problem(
                    401, "missing bearer token (Authorization: Bearer <token>)", path,
                    headers=CHALLENGE,
                )  # fmt: skip
                await refusal(scope, receive, send)
                return
            caller = await run_in_threadpool(_verify, scope, token)
            if caller is None:
                refusal = problem(401, "unknown, expired or revoked token", path, headers=CHALLENGE)
                await refusal(scope, receive, send)
                return
            if (
                method not in ("GET", "HEAD")
                and (method, path) not in READS
                and not role_allows(caller.role, WRITER)
            ):
                detail = f"writing needs the {WRITER} role; the token has {caller.role}"
                await problem(403, detail, path)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = caller
            cap = CAPS.get(path, API_CAP)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await problem(413, f"the body is over {_mib(cap)}", path)(scope, receive, send)
            return
        await self.app(scope, _capped(receive, cap), send)


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
                raise HTTPException(413, f"the body is over {_mib(cap)}")
        return message

    return wrapped
