"""The pages, login and logout. Thin: each route reads through a service or view function.

Pages authenticate with the `keel_session` cookie (HttpOnly, SameSite=Lax), which a login
sets: either a token pasted once into the login form, or a one-time code from a login link
(`keel login-link`, printed by the demo). No long-lived secret ever sits in a URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from keel import audit
from keel.audit import checkpoints, merkle
from keel.audit import log as audit_log
from keel.auth import Principal, exchange_login_code, revoke_tokens, verify
from keel.auth.service import create_token
from keel.catalog import queries
from keel.catalog.pods import pod_report
from keel.catalog.refs import system_key_of
from keel.errors import NotFoundError, UsageError
from keel.identity import SYSTEM
from keel.pipeline import promotion, releases
from keel.pipeline import runs as pipeline_runs
from keel.readiness import stages
from keel.readiness.scorecard import readiness
from keel.web import views
from keel.workspace import Workspace

HERE = Path(__file__).parent
COOKIE = "keel_session"
HISTORY = 500  # events shown on a node's history page, newest first
CSP = (
    # Cytoscape.js sets inline styles on its canvas container, hence 'unsafe-inline' for styles only.
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(href=views.href, system_href=views.system_href)
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by pages when the browser has no valid session."""


class PageNotFound(Exception):
    """Raised by pages for an entity or system that does not exist."""


class PageForbidden(Exception):
    """Raised by forms posted from another site."""


def _ws(request: Request) -> Workspace:
    return request.app.state.workspace


def session_principal(request: Request) -> Principal:
    with _ws(request).read() as session:
        found = verify(session, request.cookies.get(COOKIE), kind="session")
    if found is None:
        raise LoginRequired
    return found


def _page(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"who": who, **context})


def _snapshot(request: Request) -> views.Snapshot:
    with _ws(request).read() as session:
        return views.snapshot(session, str(id(request.app)))


def _same_origin(request: Request) -> None:
    """Forms post from our own pages only: a cross-site post could log a browser in as
    someone else (login CSRF)."""
    origin = request.headers.get("origin")
    if origin and origin not in (f"{request.url.scheme}://{request.url.netloc}", "null"):
        raise PageForbidden("cross-site form posts are refused")


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None, error=None)


@router.post("/login")
def login(request: Request, token: str = Form(..., max_length=300)) -> Response:
    _same_origin(request)
    ws = _ws(request)
    with ws.read() as session:
        found = verify(session, token.strip())
    if found is None or found.kind != "api":
        return _page(
            request, "login.html", None, error="That token is unknown, expired or revoked."
        )
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
    return _page(request, "login_code.html", None, code=c)


@router.post("/login/code")
def login_with_code(request: Request, c: str = Form(..., max_length=300)) -> Response:
    _same_origin(request)
    # The exchange records the login as the code's own user; SYSTEM only opens the transaction.
    with _ws(request).write(SYSTEM) as session:
        exchanged = exchange_login_code(session, c)
    if exchanged is None:
        return _page(
            request,
            "login.html",
            None,
            error="That login link was already used or has expired. Ask for a new one.",
        )
    return _with_cookie(request, RedirectResponse("/", status_code=303), exchanged[1])


@router.post("/logout")
def logout(request: Request) -> Response:
    _same_origin(request)
    try:
        who = session_principal(request)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    with _ws(request).write(who.actor) as session:
        revoke_tokens(session, who.actor, token_id=who.token_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def overview(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    snap = _snapshot(request)
    return _page(
        request, "overview.html", who, systems=views.systems_overview(snap), report=snap.report
    )


@router.get("/systems/{namespace}/{name}")
def system_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    snap = _snapshot(request)
    key = _existing(snap, f"system:{namespace}/{name}")
    view = views.system_graph(snap, key)
    return _page(
        request,
        "system.html",
        who,
        system=snap.graph.nodes[key],
        view=view,
        graph_json=_script_json(view),
        findings=[
            f for f in snap.report.findings if f.subject in {n["ref"] for n in view["nodes"]}
        ],
    )


@router.get("/systems/{namespace}/{name}/pod")
def pod_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    try:
        with _ws(request).read() as session:
            report = pod_report(session, f"system:{namespace}/{name}")
    except NotFoundError as exc:
        raise PageNotFound(str(exc)) from None
    return _page(request, "pod.html", who, pod=report)


@router.get("/systems/{namespace}/{name}/releases")
def releases_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    system = f"system:{namespace}/{name}"
    try:
        with _ws(request).read() as session:
            found = releases.list_releases(session, system)
            placed = promotion.where(session, system)
            runs_ = pipeline_runs.list_runs(session, system, 20)
    except NotFoundError as exc:
        raise PageNotFound(str(exc)) from None
    serves: dict[str, list[str]] = {}
    for row in placed:
        serves.setdefault(row["release"], []).append(row["environment"])
    return _page(
        request,
        "releases.html",
        who,
        system=system,
        releases=list(reversed(found)),
        serves=serves,
        placed=placed,
        runs=runs_,
    )


@router.get("/releases/{namespace}/{name}")
def release_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    try:
        with _ws(request).read() as session:
            release = releases.get_release(session, f"model:{namespace}/{name}")
            status = promotion.status(session, release)
    except (NotFoundError, UsageError) as exc:
        raise PageNotFound(str(exc)) from None
    statements = {s["predicateType"]: s["predicate"] for s in release.statements()}
    return _page(
        request,
        "release.html",
        who,
        release=release,
        status=status,
        provenance=statements.get("https://slsa.dev/provenance/v1"),
        attested=statements.get("https://keel.dev/attestation/release/v1"),
    )


@router.get("/releases/{namespace}/{name}/bundle")
def release_bundle(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> Response:
    try:
        with _ws(request).read() as session:
            release = releases.get_release(session, f"model:{namespace}/{name}")
    except (NotFoundError, UsageError) as exc:
        raise PageNotFound(str(exc)) from None
    return Response(
        release.bundle,
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{name}.intoto.jsonl"'},
    )


@router.get("/systems/{namespace}/{name}/readiness")
def readiness_page(
    namespace: str, name: str, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    try:
        with _ws(request).read() as session:
            card = readiness(session, f"system:{namespace}/{name}")
            stage = stages.show(session, card.system)
    except NotFoundError as exc:
        raise PageNotFound(str(exc)) from None
    return _page(request, "readiness.html", who, card=card, stage=stage)


@router.get("/gateway")
def gateway_page(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    """Keys, routes and live request and rate-limit figures (admins: the API's rule)."""
    from keel.auth import role_allows
    from keel.gateway import keys, routes
    from keel.gateway.figures import traffic_figures

    if not role_allows(who.role, "admin"):
        raise PageForbidden("the gateway page is for admins")
    with _ws(request).read() as session:
        figures = traffic_figures(session)
        found_routes = routes.list_routes(session)
        found_keys = keys.list_keys(session)
    return _page(
        request, "gateway.html", who, figures=figures, routes=found_routes, keys=found_keys
    )


@router.get("/catalog")
def catalog_page(request: Request, who: Principal = Depends(session_principal)) -> HTMLResponse:
    snap = _snapshot(request)
    aggregate = views.catalog_aggregate(snap)
    return _page(
        request,
        "catalog.html",
        who,
        aggregate_json=_script_json(aggregate),
        aggregate=aggregate,
        total=len(snap.graph.nodes),
        kinds=sorted({n.kind for n in snap.graph.nodes.values()}),
    )


@router.get("/catalog/table")
def catalog_table(
    request: Request,
    q: str | None = Query(None, max_length=200),
    kind: str | None = Query(None, max_length=63),
    system: str | None = Query(None, max_length=300),
    page: int = Query(1, ge=1, le=100_000),
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    size = 50
    try:
        system_key = system_key_of(system) if system else None
    except ValueError:
        system_key = system
    with _ws(request).read() as session:
        result = queries.list_entities(
            session,
            kind=kind or None,
            system=system_key,
            q=q or None,
            limit=size,
            offset=(page - 1) * size,
        )
    return _page(
        request,
        "_table.html",
        who,
        page=result,
        number=page,
        size=size,
        q=q or "",
        kind=kind or "",
        system=system or "",
    )


@router.get("/entities/{kind}/{namespace}/{name}")
def node_page(
    kind: str,
    namespace: str,
    name: str,
    request: Request,
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    snap = _snapshot(request)
    key = _existing(snap, f"{kind}:{namespace}/{name}")
    node = snap.graph.nodes[key]
    graph = snap.graph
    return _page(
        request,
        "node.html",
        who,
        node=node,
        key=key,
        questions=views.node_questions(snap, key),
        upstream=sorted(graph.upstream.get(key, [])),
        downstream=sorted(graph.downstream.get(key, [])),
        findings=snap.by_subject.get(key, []),
        system=graph.system_of(key),
        nodes=graph.nodes,
        yaml_text=_yaml(node.body),
    )


@router.get("/entities/{kind}/{namespace}/{name}/events")
def node_events(
    kind: str,
    namespace: str,
    name: str,
    request: Request,
    who: Principal = Depends(session_principal),
) -> HTMLResponse:
    snap = _snapshot(request)
    key = _existing(snap, f"{kind}:{namespace}/{name}")
    with _ws(request).read() as session:
        events = audit.list_events(session, subject=key, limit=HISTORY)
    return _page(
        request,
        "events.html",
        who,
        node=snap.graph.nodes[key],
        key=key,
        events=list(reversed(events)),
    )


@router.get("/events/{seq}")
def event_page(
    seq: int, request: Request, who: Principal = Depends(session_principal)
) -> HTMLResponse:
    """One event: its stored bytes, its leaf, and its inclusion proof against the latest checkpoint."""
    with _ws(request).read() as session:
        found = audit.list_events(session, seq=seq)
        if not found:
            raise PageNotFound(f"no event {seq}")
        latest = checkpoints.latest(session)
        proof = audit_log.inclusion(session, seq) if latest and seq <= latest.size else None
    verdict = None
    if proof is not None:
        try:
            merkle.verify_inclusion(
                seq - 1, proof.size, merkle.leaf_hash(found[0].body), proof.hashes, latest.root
            )
            verdict = "verified"
        except merkle.ProofError as exc:
            verdict = f"does not verify: {exc}"
    return _page(
        request,
        "event.html",
        who,
        event=found[0],
        body=found[0].body.decode(),
        leaf=merkle.leaf_hash(found[0].body).hex(),
        proof=proof,
        checkpoint=latest,
        verdict=verdict,
    )


def _existing(snap: views.Snapshot, ref: str) -> str:
    try:
        return snap.graph.resolve(ref).key
    except NotFoundError as exc:
        raise PageNotFound(str(exc)) from None


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no '<', so no '</script>' can close the tag early."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _yaml(body: dict) -> str:
    import yaml

    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def _with_cookie(request: Request, response: Response, secret: str) -> Response:
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        max_age=12 * 3600,
        path="/",
        secure=request.url.scheme == "https",
    )
    return response


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        response = _page(request, "404.html", None, detail=str(exc))
        response.status_code = 404
        return response

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        response = _page(request, "404.html", None, detail=str(exc))
        response.status_code = 403
        return response

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        if not request.url.path.startswith("/api/"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response
