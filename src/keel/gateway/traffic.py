"""The traffic log: one `gateway.request` event per request (and a `gateway.anomaly` event
per anomaly found) in the audit spine's `traffic` log, appended in batches by a background thread, off the hot path.

The hot path only appends a dict to a deque (~0.2 µs). Every `interval` seconds, or sooner
when `batch` records wait, the writer thread appends them all in one write transaction
through `keel.audit.append(..., log="traffic")`, the only writer of events. Records hold
ids, names, figures and decisions, never prompt or completion text. If the store is
unreachable the records wait (up to `capacity`, then the oldest are dropped and counted).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from keel import audit
from keel.gateway.capture import redact_payload
from keel.identity import Actor
from keel.workspace import Workspace

LOG = "traffic"
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
                with self.ws.write(GATEWAY) as session:
                    audit.append(session, GATEWAY, changes, log=LOG)
            except Exception as exc:  # the store is down: keep them for the next try
                queue.extendleft(reversed(records))
                logger.warning("traffic log: cannot append %d events: %s", len(records), exc)
                break
            written += len(records)
        self.written += written
        if self.on_write is not None and (written or dropped):
            self.on_write(written, dropped)
        return written

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        else:
            self.flush()

    def pending(self) -> int:
        return len(self._queue)
