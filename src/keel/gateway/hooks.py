"""The request's state as it moves through the gateway, and where guards plug in.

A `Call` is created per request and filled step by step (key, endpoint, route, release,
parsed body, token reservation, usage, findings). Guards (issue #7's scanners) plug in as

- an `InputHook`: `await hook(call)` after authentication, routing and limits, before the
  upstream is called; it may rewrite `call.body` (set `call.raw = None` to re-encode it),
  append findings, or raise `keel.gateway.errors.blocked(...)` to refuse;
- an `OutputHook`: `await hook.response(call, body) -> body` for a complete answer, and
  `hook.stream(call) -> StreamFilter | None` for SSE, whose `feed(chunk) -> bytes` and
  `end() -> bytes` see every byte before the client does (`keel.guard.stream` fits here).

Findings are recorded in the traffic log by type and position, never with the text.
`keel.gateway.guards` puts keel.guard's scanners on both points, per route policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from keel.gateway.config import Grant
from keel.gateway.routes import Route


@dataclass(slots=True)
class Call:
    id: str
    operation: str
    started: float
    grant: Grant | None = None
    endpoint: str | None = None
    route: Route | None = None
    releases: tuple[str, ...] = ()  # what the route's environment serves
    release: str | None = None  # the one of them that answered, when known
    body: dict[str, Any] | None = None
    raw: bytes | None = None  # the bytes to forward; None: encode `body`
    stream: bool = False
    reserved: int = 0
    usage: dict[str, Any] | None = None
    status: int = 0
    decision: str = "allowed"
    upstream_seconds: float | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    limits: list = field(default_factory=list)  # the tpm checks taken, settled with usage
    answer: Any = None  # the parsed answer, kept only when the route captures payloads
    limit: str | None = None  # "unchecked": the limit store was down, the route fails open
    ungoverned: bool = False  # production, no release promoted, served as the route allows
    recorded: bool = False  # the traffic record is written (before the answer's last byte)

    @property
    def environment(self) -> str | None:
        return self.grant.environment if self.grant else None


class InputHook(Protocol):
    async def __call__(self, call: Call) -> None: ...


class StreamFilter(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...

    def end(self) -> bytes: ...


class OutputHook(Protocol):
    async def response(self, call: Call, body: bytes) -> bytes: ...

    def stream(self, call: Call) -> StreamFilter | None: ...


@dataclass
class Hooks:
    input: list[InputHook] = field(default_factory=list)
    output: list[OutputHook] = field(default_factory=list)
