"""The CLI as an API client: with KEEL_URL and KEEL_TOKEN set, changes go to the control plane.

That is how a workspace in server mode is changed from a terminal: the token proves who
acts, and the events name the token's user. Standard library only (urllib).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from keel.config import Settings
from keel.errors import InputError, KeelError, NotFoundError, PermissionDenied, UsageError


def enabled(settings: Settings) -> bool:
    return bool(settings.url and settings.token)


def call(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """One API call; problem documents become the matching KeelError, one line each."""
    url = settings.url.rstrip("/") + path  # type: ignore[union-attr]
    if any(c in (settings.token or "") for c in "\r\n "):
        raise UsageError("KEEL_TOKEN holds whitespace: paste the token alone")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {settings.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise _problem(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach the control plane at {settings.url}: {reason}") from None


def decision(settings: Settings, path: str, body: Any, refused: Callable[[list[str]], Any]) -> Any:
    """POST a decision; a refusal with its reasons (HTTP 409) becomes `refused(reasons)`."""
    try:
        return call(settings, "POST", path, body)
    except Refused as exc:
        return refused(exc.problems)


class Refused(KeelError):
    """The control plane refused a decision (HTTP 409) and listed why; exit 1, as locally."""

    http_status = 409

    def __init__(self, detail: str, problems: list[str]):
        super().__init__(detail)
        self.problems = problems


def _problem(exc: urllib.error.HTTPError) -> KeelError:
    try:
        problem = json.loads(exc.read())
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = problem.get("detail") or f"HTTP {exc.code}"
    if exc.code == 409 and isinstance(problem.get("errors"), list):
        return Refused(detail, [str(e) for e in problem["errors"]])
    if problem.get("errors"):
        return InputError(problem["errors"])
    if exc.code in (401, 403):
        return PermissionDenied(f"control plane: {detail}")
    if exc.code == 404:
        return NotFoundError(detail)
    if 400 <= exc.code < 500:
        return UsageError(detail)
    return KeelError(f"control plane error {exc.code}: {detail}")
