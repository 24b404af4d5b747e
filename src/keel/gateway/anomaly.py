"""Per-key anomaly detection: a burst or an error spike against the key's own baseline.

Each key's requests and errors (answers >= 400) are counted in 10-second buckets; the
baseline is an exponentially weighted mean of past buckets (idle buckets count as zero).
Within the current bucket:

- a burst is more requests than `burst_factor` x the baseline (and at least `burst_floor`);
- an error spike is at least `error_floor` errors, at an error share `error_jump` above the
  key's baseline share.

Each kind is reported once per bucket (the gateway records it as a `gateway.anomaly.detected` event in
the traffic log and counts it in the metrics). In `throttle` mode a burst also throttles the
key for `throttle_for` seconds to its baseline rate per bucket (at least one request), answered
with 429 beyond it. Costs a dictionary lookup and a few additions per request.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

MODES = ("off", "alert", "throttle")


@dataclass(slots=True)
class _Key:
    start: float
    count: int = 0
    errors: int = 0
    mean: float = 0.0
    error_share: float = 0.0
    flagged: set[str] = field(default_factory=set)
    throttled_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str  # burst | error_spike
    key: str
    figures: dict[str, Any]


class Detector:
    def __init__(
        self,
        *,
        mode: str = "alert",
        bucket: float = 10.0,
        alpha: float = 0.3,
        burst_factor: float = 5.0,
        burst_floor: int = 100,
        error_floor: int = 10,
        error_jump: float = 0.5,
        throttle_for: float = 60.0,
        clock=time.monotonic,
    ):
        if mode not in MODES:
            raise ValueError(f"anomaly mode {mode!r} is not one of {', '.join(MODES)}")
        self.mode = mode
        self.bucket = bucket
        self.alpha = alpha
        self.burst_factor = burst_factor
        self.burst_floor = burst_floor
        self.error_floor = error_floor
        self.error_jump = error_jump
        self.throttle_for = throttle_for
        self.clock = clock
        self._keys: dict[str, _Key] = {}

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def _state(self, key: str, now: float) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key(now)
        elif now - state.start >= self.bucket:
            self._roll(state, now)
        return state

    def _roll(self, state: _Key, now: float) -> None:
        passed = int((now - state.start) // self.bucket)
        share = state.errors / state.count if state.count else state.error_share
        state.mean += self.alpha * (state.count - state.mean)
        state.error_share += self.alpha * (share - state.error_share)
        idle = min(passed - 1, 100)
        if idle > 0:  # buckets with no request at all
            state.mean *= (1 - self.alpha) ** idle
        state.start += passed * self.bucket
        state.count = state.errors = 0
        state.flagged.clear()

    def admit(self, key: str) -> int | None:
        """None when the key may go on; else seconds to wait (it is throttled)."""
        if self.mode != "throttle":
            return None
        now = self.clock()
        state = self._state(key, now)
        if now >= state.throttled_until or state.count < max(1, math.ceil(state.mean)):
            return None
        return max(1, math.ceil(state.start + self.bucket - now))

    def observe(self, key: str, status: int) -> list[Anomaly]:
        """Count one answer; returns the anomalies it reveals (each kind once per bucket)."""
        now = self.clock()
        state = self._state(key, now)
        state.count += 1
        if status >= 400 and status != 429:
            state.errors += 1
        found: list[Anomaly] = []
        limit = max(self.burst_floor, self.burst_factor * state.mean)
        if state.count > limit and "burst" not in state.flagged:
            state.flagged.add("burst")
            if self.mode == "throttle":
                state.throttled_until = now + self.throttle_for
            found.append(
                Anomaly(
                    "burst",
                    key,
                    {
                        "requests": state.count,
                        "baseline": round(state.mean, 2),
                        "bucket_s": self.bucket,
                        "throttled_s": self.throttle_for if self.mode == "throttle" else 0,
                    },
                )
            )
        if (
            state.errors >= self.error_floor
            and state.errors / state.count > state.error_share + self.error_jump
            and "error_spike" not in state.flagged
        ):
            state.flagged.add("error_spike")
            found.append(
                Anomaly(
                    "error_spike",
                    key,
                    {
                        "errors": state.errors,
                        "requests": state.count,
                        "baseline_share": round(state.error_share, 3),
                        "bucket_s": self.bucket,
                    },
                )
            )
        return found
