"""What endpoints depend on: the workspace, the verified caller, and role checks."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from keel.api.problems import Problem
from keel.auth import Principal, role_allows, verify
from keel.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token: `keel token create`.")


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 when absent or not valid."""
    challenge = {"WWW-Authenticate": 'Bearer realm="keel"'}
    if credentials is None:
        raise Problem(
            401, "missing bearer token (Authorization: Bearer <token>)", headers=challenge
        )
    with workspace(request).read() as session:
        found = verify(session, credentials.credentials, kind="api")  # not sessions, not codes
    if found is None:
        raise Problem(401, "unknown, expired or revoked token", headers=challenge)
    return found


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers whose API role is at least `role`."""

    def check(caller: Principal = Depends(principal)) -> Principal:
        if not role_allows(caller.role, role):
            raise Problem(403, f"this needs the {role} role; the token has {caller.role}")
        return caller

    return check


viewer = require("viewer")
editor = require("editor")
admin = require("admin")
