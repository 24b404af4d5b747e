"""Login and logout: a token pasted once into the login form, or a one-time code from a
login link (`keel login-link`, printed by the demo); either sets the session cookie.

Forms post from our own pages only: a cross-site post could log a browser in as someone
else (login CSRF). The Origin header decides, else the Referer; a null or missing origin is
refused. Our pages send `Referrer-Policy: same-origin`, so a browser posting one of our
forms always names our origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keel.auth import exchange_login_code, revoke_tokens, verify
from keel.auth.service import create_token
from keel.errors import PermissionDenied
from keel.identity import SYSTEM
from keel.web.pages import (
    COOKIE,
    LoginRequired,
    page,
    page_router,
    session_principal,
    workspace,
)

router = page_router()
SESSION_SECONDS = 12 * 3600


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lowercased, the scheme's default port dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}")


def same_origin(request: Request) -> None:
    app = request.scope.get("app")
    ws = getattr(app.state, "workspace", None) if app is not None else None
    public = ws.settings.public_url if ws is not None else None
    own = origin_of(public or f"{request.url.scheme}://{request.url.netloc}")
    origin = request.headers.get("origin")
    if origin is None:
        origin = request.headers.get("referer")
    if own is None or origin is None or origin_of(origin) != own:
        raise PermissionDenied("form posts are accepted from this site's own pages only")


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", None, error=None)


@router.post("/login")
def login(request: Request, token: str = Form(..., max_length=300)) -> Response:
    same_origin(request)
    ws = workspace(request)
    with ws.read() as session:
        found = verify(session, token.strip())
    if found is None or found.kind != "api":
        return page(request, "login.html", None, error="That token is unknown, expired or revoked.")
    with ws.write(found.actor) as session:
        _, secret = create_token(
            session,
            found.actor,
            found.actor.id,
            found.role,
            kind="session",
            note=f"login with token {found.token_id}",
            parent=found.token_id,
        )
    return _with_cookie(request, RedirectResponse("/", status_code=303), secret)


@router.get("/login/code")
def login_code_page(request: Request, c: str = Query(..., max_length=300)) -> HTMLResponse:
    """A page with one button: link previewers fetch with GET and must not spend the code."""
    return page(request, "login_code.html", None, code=c)


@router.post("/login/code")
def login_with_code(request: Request, c: str = Form(..., max_length=300)) -> Response:
    same_origin(request)
    ws = workspace(request)
    # Checked in a read first: an unknown caller never takes the store's writer lock. The
    # spend itself stays race-safe (an UPDATE of a code not yet revoked).
    with ws.read() as session:
        live = verify(session, c, kind="login") is not None
    exchanged = None
    if live:
        # The exchange records the login as the code's own user; SYSTEM only opens it.
        with ws.write(SYSTEM) as session:
            exchanged = exchange_login_code(session, c)
    if exchanged is None:
        return page(
            request,
            "login.html",
            None,
            error="That login link was already used or has expired. Ask for a new one.",
        )
    return _with_cookie(request, RedirectResponse("/", status_code=303), exchanged[1])


@router.post("/logout")
def logout(request: Request) -> Response:
    same_origin(request)
    try:
        who = session_principal(request)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    with workspace(request).write(who.actor) as session:
        revoke_tokens(session, who.actor, token_id=who.token_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _with_cookie(request: Request, response: Response, secret: str) -> Response:
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        max_age=SESSION_SECONDS,
        path="/",
        secure=request.url.scheme == "https",
    )
    return response
