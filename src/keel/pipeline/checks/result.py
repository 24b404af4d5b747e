"""The one result every built-in check returns: what was measured, against what, and the verdict.

`result` is "pass" or "fail" when the check could measure what it measures, and "error" when it
could not (an unreadable input, a metric undefined on the data given); `log` says why in words.
A result is plain data: `as_dict()` is canonical-JSON-safe (finite floats, strings, lists and
objects only), ready to become an evidence record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Track = Literal["data", "model", "feature", "eval", "deploy"]
Verdict = Literal["pass", "fail", "error"]
TRACKS = ("data", "model", "feature", "eval", "deploy")
VERDICTS = ("pass", "fail", "error")


def _finite(name: str, value: Any) -> float:
    number = float(value)  # numpy scalars and ints become plain floats
    if not math.isfinite(number):
        raise ValueError(f"figure {name!r} is {number}: figures must be finite")
    return number


@dataclass(frozen=True)
class CheckResult:
    track: Track
    check: str
    result: Verdict
    figures: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.track not in TRACKS:
            raise ValueError(f"unknown track {self.track!r}")
        if self.result not in VERDICTS:
            raise ValueError(f"unknown result {self.result!r}")
        # Copies in plain Python types, so later changes to the caller's dicts cannot leak in.
        set_ = object.__setattr__
        set_(self, "figures", {str(k): _finite(k, v) for k, v in self.figures.items()})
        set_(self, "thresholds", {str(k): _finite(k, v) for k, v in self.thresholds.items()})
        set_(self, "inputs", {str(k): str(v) for k, v in self.inputs.items()})
        set_(self, "log", [str(line) for line in self.log])

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def as_dict(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "check": self.check,
            "result": self.result,
            "figures": dict(self.figures),
            "inputs": dict(self.inputs),
            "log": list(self.log),
            "thresholds": dict(self.thresholds),
        }


def verdict(ok: bool) -> Verdict:
    return "pass" if ok else "fail"
