"""The traffic log: one `gateway.request.handled` event per request (and a `gateway.anomaly.detected` event
per anomaly found) in the audit spine's `traffic` log, appended in batches by a background thread, off the hot path.

The hot path only appends a dict to a deque (~0.2 µs). Every `interval` seconds, or sooner
when `batch` records wait, the writer thread appends them all in one write transaction
through `keel.audit.append(..., log="traffic")`, the only writer of events. Records hold
ids, names, figures and decisions, never prompt or completion text. If the store is
unreachable the records wait (up to `capacity`, then the oldest are dropped and counted).

The traffic log is signed with the traffic key (`audit-traffic-ed25519.pem` in KEEL_HOME,
introduced by a governance event at `keel init`), never the governance key: after every
`sign_every` events or `sign_interval` seconds, whichever comes first, and at shutdown.
The gateway's host needs only that key file.

`RequestEvent` is the declared schema of a `gateway.request.handled` event's details (docs/events.md);
`request_event(call, seconds, used)` builds one from a finished `Call`, `anomaly_event` the details
of a `gateway.anomaly.detected`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel import audit
from keel.audit import checkpoints, keys
from keel.audit.trust import key_name
from keel.errors import WorkspaceError
from keel.gateway.capture import redact_payload
from keel.identity import Actor
from keel.store import transaction
from keel.workspace import Workspace

LOG = "traffic"
SIGN_EVERY = 1000  # events: the traffic log is signed after this many...
SIGN_INTERVAL = 5.0  # ... or this many seconds, whichever comes first (and at shutdown)
ACTION = "gateway.request.handled"
GATEWAY = Actor("user:keel/gateway", "system")
logger = logging.getLogger("keel.gateway")


class TrafficLog:
    def __init__(
        self,
        ws: Workspace,
        *,
        interval: float = 0.5,
        batch: int = 2000,
        capacity: int = 200_000,
        on_write: Callable[[int, int], None] | None = None,
        sign_every: int = SIGN_EVERY,
        sign_interval: float = SIGN_INTERVAL,
    ):
        self.ws = ws
        self.interval = interval
        self.batch = batch
        self.capacity = capacity
        self.on_write = on_write  # (written, dropped) after each flush, for the metrics
        self._queue: deque[tuple[str, str, dict[str, Any], Any]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.sign_every, self.sign_interval = sign_every, sign_interval
        self.unsigned = 0  # events appended since the last checkpoint this log signed
        self._signed_at = time.monotonic()
        self._signer: keys.Signer | bool | None = None  # False: this host has no traffic key

    def record(
        self,
        details: dict[str, Any],
        *,
        action: str = ACTION,
        subject: str | None = None,
        payload: Any = None,
    ) -> None:
        """Queue one event; a `payload` (opt-in capture) is redacted by the writer thread
        before it is appended, never on the request's path."""
        queue = self._queue
        queue.append((action, subject or details.get("endpoint") or "gateway", details, payload))
        if len(queue) >= self.batch:
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="keel-traffic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never let the writer die: the next pass tries again
                logger.exception("traffic log: flush failed")
        self.flush()
        self.sign(force=True)

    def flush(self) -> int:
        """Write what is waiting; returns how many events were appended."""
        queue = self._queue
        dropped = 0
        while len(queue) > self.capacity:
            queue.popleft()
            dropped += 1
        self.dropped += dropped
        written = 0
        while queue:
            records = [queue.popleft() for _ in range(min(len(queue), self.batch))]
            changes = [
                audit.Change(
                    action, subject, d if p is None else {**d, "payload": redact_payload(p)}
                )
                for action, subject, d, p in records
            ]
            try:
                # a transaction of its own, not `ws.write`: that would sign the governance
                # log, whose key the gateway does not hold
                with transaction(self.ws.engine, write=True) as session:
                    audit.append(session, GATEWAY, changes, log=LOG)
            except Exception as exc:  # the store is down: keep them for the next try
                queue.extendleft(reversed(records))
                logger.warning("traffic log: cannot append %d events: %s", len(records), exc)
                break
            written += len(records)
        self.written += written
        self.unsigned += written
        if self.on_write is not None and (written or dropped):
            self.on_write(written, dropped)
        try:
            self.sign()
        except Exception as exc:  # the store is down: the next pass signs
            logger.warning("traffic log: cannot sign a checkpoint: %s", exc)
        return written

    def sign(self, *, force: bool = False) -> bool:
        """Sign the traffic log's tail when due (or now, with `force`); False without a key."""
        if not self.unsigned:
            return False
        waited = time.monotonic() - self._signed_at
        if not force and self.unsigned < self.sign_every and waited < self.sign_interval:
            return False
        signer = self._traffic_signer()
        if signer is None:
            return False
        with transaction(self.ws.engine, write=True) as session:
            checkpoints.checkpoint(session, signer, LOG)
        self.unsigned, self._signed_at = 0, time.monotonic()
        return True

    def _traffic_signer(self) -> keys.Signer | None:
        if self._signer is None:
            try:
                name = key_name(self.ws.name, LOG)
                self._signer = keys.load_signer(self.ws.settings.home, name, keys.TRAFFIC_KEY_FILE)
            except WorkspaceError as exc:
                logger.warning("traffic log: not signed: %s", exc)
                self._signer = False
        return self._signer or None

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        else:
            self.flush()
            self.sign(force=True)

    def pending(self) -> int:
        return len(self._queue)


# --- the events' schema ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """The details of one `gateway.request.handled` event, field by field (docs/events.md). The
    optional fields at the end are left out of the event when they are None."""

    request: str  # the request's id, also its answer's x-request-id header
    operation: str | None  # chat, embeddings, predict, models; None for an unknown path
    key: str | None  # the key's id (gk_...), never the key or its digest
    consumer: str | None
    endpoint: str | None  # api:namespace/name
    environment: str | None
    # the release that answered (or failed to, or was refused before reaching it): the
    # only one the environment serves, or the one the upstream named when several do;
    # None when none is promoted or it cannot be told
    release: str | None
    status: int  # the HTTP status the client got
    decision: str  # allowed, blocked, rate_limited:<scope>, upstream_error, ... (docs)
    latency_ms: float  # from the request's arrival until its answer was released
    releases: tuple[str, ...] | None = None  # all serving, only when more than one does
    upstream_ms: float | None = None
    stream: bool | None = None  # True for an SSE answer
    tokens: dict[str, int | None] | None = None  # reserved, prompt, completion, total
    limit: str | None = None  # "unchecked": the limit store was down, the route fails open
    ungoverned: bool | None = None  # True: production with no release, as the route allows
    findings: list[dict[str, Any]] | None = None  # by stage, field, type and place: no text

    def details(self) -> dict[str, Any]:
        out = {
            "request": self.request,
            "operation": self.operation,
            "key": self.key,
            "consumer": self.consumer,
            "endpoint": self.endpoint,
            "environment": self.environment,
            "release": self.release,
            "status": self.status,
            "decision": self.decision,
            "latency_ms": self.latency_ms,
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if name == "releases" else value
        return out


_OPTIONAL = ("releases", "upstream_ms", "stream", "tokens", "limit", "ungoverned", "findings")


def request_event(call, seconds: float, used: int | None) -> RequestEvent:
    """The event of a finished `keel.gateway.hooks.Call`; `used` is its total tokens."""
    grant = call.grant
    tokens = None
    if call.reserved or call.usage:
        usage = call.usage or {}
        tokens = {
            "reserved": call.reserved,
            "prompt": usage.get("prompt_tokens"),
            "completion": usage.get("completion_tokens"),
            "total": used,
        }
    return RequestEvent(
        request=call.id,
        operation=call.operation or None,
        key=grant.id if grant else None,
        consumer=grant.consumer if grant else None,
        endpoint=call.endpoint,
        environment=grant.environment if grant else None,
        release=call.release,
        status=call.status,
        decision=call.decision,
        latency_ms=round(seconds * 1000, 3),
        releases=call.releases if len(call.releases) > 1 else None,
        upstream_ms=None
        if call.upstream_seconds is None
        else round(call.upstream_seconds * 1000, 3),
        stream=True if call.stream else None,
        tokens=tokens,
        limit=call.limit,
        ungoverned=True if call.ungoverned else None,
        findings=call.findings or None,
    )


def request_payload(call) -> dict[str, Any] | None:
    """What a capturing route keeps of a request (redacted later, by the writer thread)."""
    if call.route is None or not call.route.capture or call.body is None:
        return None
    answer = "(stream, not captured)" if call.stream else call.answer
    return {"request": call.body, "response": answer}


def anomaly_event(anomaly, consumer: str | None, mode: str) -> dict[str, Any]:
    """The details of a `gateway.anomaly.detected` event (keel.gateway.anomaly's finding)."""
    return {
        "kind": anomaly.kind,
        "key": anomaly.key,
        "consumer": consumer,
        "mode": mode,
        **anomaly.figures,
    }
