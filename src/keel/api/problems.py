"""RFC 9457 problem details: every error the API returns, in one place.

A KeelError answers with the status it carries (`http_status`, beside its exit code);
FastAPI's validation errors and Starlette's HTTP errors are translated to the same shape;
anything else is a 500 with no internals. Refusals are counted here, by status, and those
of callers with no standing (`NoStanding`, never logged) by route: `/api/v1/metrics`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from starlette.exceptions import HTTPException as StarletteHTTPException

from keel.errors import InputError, KeelError, NoStanding
from keel.models import line

log = logging.getLogger("keel.api")
MEDIA_TYPE = "application/problem+json"
COUNTED = (401, 403, 413)
registry = CollectorRegistry()
refused = Counter(
    "keel_api_refused",
    "Requests the API refused: 401, 403 and 413 answers, by status.",
    ["status"],
    registry=registry,
)
unrecorded = Counter(
    "keel_api_refusals_unrecorded",
    "Refusals of callers with no standing (outside the pod): counted, not logged.",
    ["route"],
    registry=registry,
)
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
}


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem(
    status: int,
    detail: str,
    instance: str,
    *,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem document for `status`; the one place every error answer is built."""
    body: dict = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    if status in COUNTED:
        refused.labels(str(status)).inc()
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return problem(status, detail, request.url.path, errors=errors, headers=headers)


def _line(err: dict) -> str:
    return line(err)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, headers=exc.headers)

    @app.exception_handler(KeelError)
    async def _keel(request: Request, exc: KeelError) -> JSONResponse:
        if isinstance(exc, NoStanding):
            route = request.scope.get("route")
            unrecorded.labels(getattr(route, "path", request.url.path)).inc()
        if isinstance(exc, InputError):
            return problem_response(request, exc.http_status, exc.problems[0], errors=exc.problems)
        return problem_response(request, exc.http_status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lines = [_line(err) for err in exc.errors()]
        return problem_response(
            request, 422, lines[0] if lines else "invalid request", errors=lines
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        return problem_response(request, exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal error; the server log has the details")
