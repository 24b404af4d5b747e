"""Full payload capture, opt-in per route (`keel route set ... --capture`), stored redacted.

The hot path only keeps references to the parsed request and answer; the traffic log's
writer thread calls `redact_payload` before anything is appended, so raw text never reaches
the log. Every string is scanned with the guard's PII and secrets scanners (issue #7) and
each finding replaced by its placeholder (`[REDACTED:EMAIL_ADDRESS]`), read as the guard reads
text (`keel.guard.scan.sensitive`: invisible characters stripped, full-width forms folded, so a
card number in full-width digits is a card here too); long strings are cut
at `MAX_CHARS` and deep or wide structures at `MAX_ITEMS` (marked so).
"""

from __future__ import annotations

from typing import Any

from keel.guard.scan import redact, sensitive

MAX_CHARS = 8192
MAX_ITEMS = 200
MAX_DEPTH = 8


def redact_text(text: str) -> str:
    cut = text[:MAX_CHARS]
    clean = redact(cut, sensitive(cut))
    return clean + "[TRUNCATED]" if len(text) > MAX_CHARS else clean


def redact_payload(value: Any, depth: int = 0) -> Any:
    """A JSON value with every string redacted; numbers, booleans and null unchanged."""
    if isinstance(value, str):
        return redact_text(value)
    if depth >= MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {redact_text(str(k)): redact_payload(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        out = [redact_payload(v, depth + 1) for v in value[:MAX_ITEMS]]
        return [*out, "[TRUNCATED]"] if len(value) > MAX_ITEMS else out
    return value
