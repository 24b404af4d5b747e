"""RFC 9457 problem details: every error the API returns, in one place.

KeelError subclasses map to statuses here; FastAPI's validation errors and Starlette's
HTTP errors are translated to the same shape; anything else is a 500 with no internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keel.errors import (
    IdentityError,
    InputError,
    KeelError,
    NotFoundError,
    PermissionDenied,
    UsageError,
    WorkspaceError,
)

log = logging.getLogger("keel.api")
MEDIA_TYPE = "application/problem+json"
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


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: KeelError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, WorkspaceError):
        return 409
    if isinstance(exc, (InputError, IdentityError, UsageError)):
        return 422 if isinstance(exc, InputError) else 400
    return 500


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, headers=exc.headers)

    @app.exception_handler(KeelError)
    async def _keel(request: Request, exc: KeelError) -> JSONResponse:
        if isinstance(exc, InputError):
            return problem_response(request, 422, exc.problems[0], errors=exc.problems)
        return problem_response(request, status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lines = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
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
