"""What a scan reports: one Finding per span, one ScanResult per text (the `guard scan` JSON shape)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    """A span of the scanned text that a scanner flagged. `end` is exclusive; offsets count characters."""

    type: str
    start: int
    end: int
    scanner: str
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "scanner": self.scanner}


@dataclass(slots=True)
class ScanResult:
    """The verdict on one text. `text` is what may pass on (redacted, stripped), None when blocked.

    `errors` lists scanners that failed; a result with errors is never a pass: it is blocked when the
    policy fails closed, and otherwise flagged as unchecked for the caller to record.
    """

    blocked: bool
    findings: list[Finding] = field(default_factory=list)
    text: str | None = None
    errors: list[str] = field(default_factory=list)
    blocked_by: str | None = None

    @property
    def passed(self) -> bool:
        return not self.blocked and not self.errors

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "blocked": self.blocked,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.errors:
            out["errors"] = list(self.errors)
        return out


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Sorted by start; where spans overlap the longer one wins (first seen on ties)."""
    ordered = sorted(findings, key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for f in ordered:
        if kept and f.start < kept[-1].end:
            if f.end - f.start > kept[-1].end - kept[-1].start:
                kept[-1] = f
            continue
        kept.append(f)
    return kept
