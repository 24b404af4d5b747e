"""What endpoints depend on: the workspace, the verified caller, and role checks.

The caller is verified once, by `keel.api.gate.Gate`, before the body is read; endpoints
read it here. The bearer scheme is declared so the OpenAPI document shows it.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from keel.api.bodies import unknown_field
from keel.api.problems import Problem
from keel.auth import Principal, role_allows
from keel.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token: `keel token create`.")


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def principal(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """The caller the gate verified (it answers 401 itself when there is none)."""
    found = getattr(request.state, "principal", None)
    if found is None:  # only when an app is served without its gate
        raise Problem(401, "unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="keel"'})
    return found


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers whose API role is at least `role`."""

    def check(caller: Principal = Depends(principal)) -> Principal:
        if not role_allows(caller.role, role):
            raise Problem(403, f"this needs the {role} role; the token has {caller.role}")
        return caller

    check.role = role  # type: ignore[attr-defined]  # read by the gate, before the body
    return check


viewer = require("viewer")
editor = require("editor")
admin = require("admin")


def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not declare: an ignored one is a silent change
    of meaning (`?artifact-digest=` for `?artifact_digest=` skipped the subject check)."""
    route = request.scope.get("route")
    if route is None:
        return
    accepted = _query_names(route.dependant)
    problem = unknown_field(dict(request.query_params), accepted)
    if problem:
        raise Problem(422, problem.replace("field", "query parameter", 1))


def _query_names(dependant: Dependant) -> list[str]:
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += [n for n in _query_names(sub) if n not in names]
    return names
