"""Decisions on the release page: request approval, approve, reject and promote, as the web
session's user, under exactly the rules of the CLI and the API.

Each form posts to `/releases/{namespace}/{name}/decide` with its `action`. Before anything
is read from the body the session is checked (no session: the login page), then the origin
(our own pages only) and the form itself, capped in fields and size; then its CSRF token (a
MAC of the session cookie) and the review state it was shown in (`reviews.state_of`, read
again in the decision's own write transaction, under the writer lock): a form from an older
state is stale (the state counts the user's own refusals, not others'), so a double click
(even two posts at once) or a page left open while someone else decided records nothing. Deciding needs the editor role, like the API. The decision runs
through `refusals.logged` with the same service function as `keel release ...`, so a refusal
is logged as it is there and the page shows the same itemised list as `release promote`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from keel.auth import Principal, role_allows
from keel.errors import InputError, KeelError, PermissionDenied
from keel.pipeline import approvals, promotion, refusals, releases, reviews
from keel.web.pages import check_csrf, page_router, session_principal, workspace
from keel.web.pages.auth import same_origin
from keel.web.pages.releases import release_view

router = page_router()
MAX_FIELDS = 8
MAX_FIELD_BYTES = 4096
MAX_BODY = 16 * 1024  # the largest form: a 2,000-character reason, percent-encoded
REFUSED = {
    "request": "pipeline.approval_request.refused",
    "approve": "pipeline.approval.refused",
    "reject": "pipeline.rejection.refused",
    "promote": "pipeline.promotion.refused",
}


@router.post("/releases/{namespace}/{name}/decide")
async def decide(namespace: str, name: str, request: Request) -> Response:
    who = await run_in_threadpool(session_principal, request)
    same_origin(request)
    ref = f"model:{namespace}/{name}"
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        raise InputError(f"a decision form is at most {MAX_BODY // 1024} KB")
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except Exception:  # starlette's MultiPartException and friends: a malformed or huge form
        raise InputError("the form could not be read (too many fields or too large)") from None
    check_csrf(request, form.get("csrf"))
    action = _field(form, "action")
    if action not in REFUSED:
        raise InputError(f"unknown action {action!r} (one of {', '.join(REFUSED)})")
    if not role_allows(who.role, "editor"):
        raise PermissionDenied(f"deciding needs the editor role; this session has {who.role}")
    return await run_in_threadpool(_decide, request, who, ref, action, form)


class StaleForm(InputError):
    """A form shown before the release's newest decision. An InputError, so `refusals.logged`
    records nothing for it (nothing was attempted), answered 409 like a conflict."""

    http_status = 409


STALE = (
    "This page was out of date (something was decided since): nothing was recorded. "
    "Here it is as it stands now."
)


def _decide(request: Request, who: Principal, ref: str, action: str, form: FormData) -> Response:
    ws = workspace(request)
    with ws.read() as session:
        release = releases.get_release(session, ref)
    try:
        outcome = refusals.logged(
            ws,
            who.actor,
            REFUSED[action],
            ref,
            lambda session: _work(session, who, ws, ref, action, form),
            standing=refusals.release_standing(who.actor, ref),
        )
    except StaleForm:
        return release_view(request, who, ref, status_code=409, error=STALE)
    except KeelError as exc:
        return release_view(request, who, ref, status_code=exc.http_status, error=str(exc))
    if isinstance(outcome, promotion.Decision) and not outcome.allowed:
        return release_view(
            request,
            who,
            ref,
            status_code=409,
            error=f"{release.short_name} cannot go to {outcome.environment}: "
            f"{len(outcome.missing)} requirement(s) missing",
            refusal=[str(m) for m in outcome.missing],
        )
    _, path = ref.split(":", 1)
    return RedirectResponse(f"/releases/{path}?done={action}", status_code=303)


def _work(session, who: Principal, ws, ref: str, action: str, form: FormData) -> Any:
    """The decision, in the write transaction: the form's state is checked here, under the
    writer lock, so of two posts of one form only the first finds it current."""
    release = releases.get_release(session, ref)
    shown = _field(form, "state")
    if shown != str(reviews.state_of(session, release, who.actor.id)):
        raise StaleForm(STALE)
    actor = who.actor
    if action == "request":
        return reviews.request_approval(session, actor, ref, _field(form, "note"))
    if action == "approve":
        return approvals.approve(session, actor, ref, _field(form, "role"), _field(form, "comment"))
    if action == "reject":
        return reviews.reject(session, actor, ref, _field(form, "role"), _field(form, "reason"))
    return promotion.promote(session, actor, ws.signer(), ref, _field(form, "to"))


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InputError(f"{name}: a text field, not a file")
    return value
