"""Quality figures on the labelled dev sets, shared by the tests (floors) and the bench (report).

PII: per structured type, a labelled span counts as caught when a finding of the same type
overlaps it; a false hit is a finding that overlaps no labelled span of its type (rows whose
positions are unspecified are left out of false hits). Recognizer cases count only rows scoped to
the six types (phone rows come from Presidio's generic phone recognizer test).
Secrets: a row is flagged when the secrets scanner finds anything.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from keel.guard import pii

PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
PII_FILES = ("pii_synth_dev.jsonl", "presidio_recognizer_cases_dev.jsonl")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def pii_rows(data_dir: Path, name: str) -> list[dict]:
    rows = read_jsonl(data_dir / name)
    if name.startswith("presidio_recognizer"):
        rows = [
            r
            for r in rows
            if r.get("scope_entity") in PII_TYPES
            or (r.get("scope_entity") is None and "phone" in r.get("recognizer_test", ""))
        ]
    return rows


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def pii_figures(
    rows: Iterable[dict], findings_of: Callable[[str], list[dict]] | None = None
) -> tuple[Counter, Counter, Counter]:
    """(caught, labelled, false hits) per type; `findings_of(text)` defaults to Keel's scanner."""
    findings_of = findings_of or (lambda t: [f.to_dict() for f in pii.scan(t)])
    caught: Counter = Counter()
    total: Counter = Counter()
    false: Counter = Counter()
    for row in rows:
        gold = [e for e in row.get("entities") or [] if e["type"] in PII_TYPES]
        found = [f for f in findings_of(row["text"]) if f["type"] in PII_TYPES]
        for g in gold:
            total[g["type"]] += 1
            if any(f["type"] == g["type"] and _overlap(f, g) for f in found):
                caught[g["type"]] += 1
        unspecified = row.get("entities_positions_unspecified") or row.get(
            "expected_count", 0
        ) > len(row.get("entities") or [])
        if unspecified:
            continue
        for f in found:
            if not any(f["type"] == g["type"] and _overlap(f, g) for g in gold):
                false[f["type"]] += 1
    return caught, total, false
