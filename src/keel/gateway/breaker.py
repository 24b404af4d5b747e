"""A circuit breaker per upstream: after `threshold` failures in a row the gateway stops
calling it for `cooldown` seconds (503 with Retry-After), then lets one request through to
probe; a success closes the circuit, a failure opens it again.

Failures are what `keel.gateway.errors.translate` turns into 502/504 and upstream 5xx
answers; a 4xx is the client's business and counts as a success.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class Breaker:
    def __init__(self, threshold: int = 5, cooldown: float = 5.0, clock=time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self._states: dict[str, _State] = {}

    def check(self, upstream: str) -> int | None:
        """None when a request may go; else the seconds to wait (for Retry-After)."""
        state = self._states.get(upstream)
        if state is None or state.opened_at is None:
            return None
        waited = self.clock() - state.opened_at
        if waited < self.cooldown:
            return max(1, math.ceil(self.cooldown - waited))
        if state.probing:  # one probe at a time while half-open
            return 1
        state.probing = True
        return None

    def success(self, upstream: str) -> None:
        state = self._states.get(upstream)
        if state is not None:
            state.failures, state.opened_at, state.probing = 0, None, False

    def failure(self, upstream: str) -> None:
        state = self._states.setdefault(upstream, _State())
        state.failures += 1
        state.probing = False
        if state.failures >= self.threshold or state.opened_at is not None:
            state.opened_at = self.clock()

    def is_open(self, upstream: str) -> bool:
        state = self._states.get(upstream)
        return bool(state and state.opened_at is not None)
