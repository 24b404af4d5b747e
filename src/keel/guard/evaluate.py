# ruff: noqa: RUF001  (the evasion families hold look-alike letters on purpose)
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


# Evasion families, built from any text by transformation (never from the dev rows' wording):
# each character of a row is disguised with a probability, by a random generator seeded from
# the row's SHA-256, so a set is the same on every run. The look-alikes are an attacker's list
# (common Cyrillic and Greek letters), written independently of the confusables data the
# detector folds with; some (Greek epsilon, kappa, tau) have no entry there and stay disguised.
_HOMOGLYPHS = {
    "a": "аα", "c": "с", "e": "еε", "i": "іι", "j": "ј", "o": "оο", "p": "рρ", "s": "ѕ",
    "x": "хχ", "y": "у", "k": "κ", "v": "ν", "u": "υ", "h": "һ", "t": "τ", "A": "АΑ",
    "B": "ВΒ", "E": "ЕΕ", "H": "НΗ", "I": "ІΙ", "K": "КΚ", "M": "МΜ", "N": "Ν", "O": "ОΟ",
    "P": "РΡ", "T": "ТΤ", "X": "ХΧ", "Y": "Υ", "Z": "Ζ", "C": "С",
}  # fmt: skip
_LEET = {
    "a": "4@",
    "e": "3",
    "i": "1!",
    "o": "0",
    "s": "5$",
    "t": "7",
    "l": "1",
    "g": "9",
    "b": "8",
}


def _rng(text: str):
    import hashlib
    import random

    return random.Random(hashlib.sha256(text.encode("utf-8", "replace")).digest())


def _substitute(text: str, table: dict[str, str], p: float) -> str:
    rng = _rng(text)
    out = []
    for ch in text:
        options = table.get(ch) or table.get(ch.lower())
        out.append(rng.choice(options) if options and rng.random() < p else ch)
    return "".join(out)


def disguise(family: str, text: str) -> str:
    """`text` disguised as one evasion family does it."""
    import base64
    import codecs

    if family == "homoglyph":
        return _substitute(text, _HOMOGLYPHS, 0.5)
    if family == "leetspeak":
        return _substitute(text, _LEET, 0.6)
    if family == "base64":
        return base64.b64encode(text.encode("utf-8", "replace")).decode()
    if family == "rot13":
        return codecs.encode(text, "rot13")
    raise ValueError(f"unknown evasion family {family!r}")


EVASIONS = ("homoglyph", "leetspeak", "base64", "rot13")
