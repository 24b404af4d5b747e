"""Compatibility forms folded before the PII and secrets scanners read a text (NFKC, per character).

Full-width digits and letters (U+FF10-FF19, U+FF21-FF5A), circled and superscript digits,
ligatures and the like are read as their plain forms, so a card number typed in full-width
digits is a card number; findings are mapped back to offsets in the text as given, so a redaction replaces the
original characters. Each character is folded on its own (a fold can only widen it: the fi ligature becomes two letters),
which keeps the map a list of original positions. ASCII and already-NFKC text (most text in
any script) costs one check.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache

from keel.guard.findings import Finding

_last: tuple[str | None, str, list[int] | None] = (None, "", None)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch) or ch


def fold(text: str) -> tuple[str, list[int] | None]:
    """(folded text, origin) where origin[i] is the position in `text` of folded character i
    (one more entry, len(text), at the end); origin is None when nothing changed."""
    global _last
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text, None
    if _last[0] is text:  # the PII and secrets scanners fold the same string one after the other
        return _last[1], _last[2]
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch < "\x80" else _fold_char(ch)
        parts.append(folded)
        origin.extend([i] * len(folded))
    out = "".join(parts)
    result = (out, None) if out == text else (out, [*origin, len(text)])
    _last = (text, *result)
    return result


def back(findings: list[Finding], origin: list[int]) -> list[Finding]:
    """Findings on the folded text, as spans of the original text (whole characters)."""
    return [
        Finding(
            f.type,
            origin[f.start],
            origin[f.end - 1] + 1 if f.end > f.start else origin[f.end],
            f.scanner,
            f.score,
        )
        for f in findings
    ]


def folded(scan: Callable[[str], list[Finding]]) -> Callable[[str], list[Finding]]:
    """`scan` run on the folded text, its findings in the offsets of the text given."""

    def run(text: str) -> list[Finding]:
        out, origin = fold(text)
        return scan(text) if origin is None else back(scan(out), origin)

    return run
