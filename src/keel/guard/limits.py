"""Size caps and a token estimate: checked before any scanner runs, so no scan is ever unbounded.

No tokenizer file can be fetched here, so tokens are estimated conservatively (high) from the text:
each run of letters counts one token per 4 characters (rounded up), each run of digits one per 3,
every other non-space character one. BPE tokenizers (cl100k, o200k) give fewer on English prose.
"""

from __future__ import annotations

import re2

from keel.guard.findings import Finding

SCANNER = "limits"
_PIECES = re2.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")


def estimate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        if piece[0].isdigit():
            total += -(-len(piece) // 3)
        elif piece[0].isalpha():
            total += -(-len(piece) // 4)
        else:
            total += 1
    return total


def check(text: str, max_chars: int, max_tokens: int | None) -> list[Finding]:
    """A finding per limit the text breaks (they always block)."""
    out = []
    if len(text) > max_chars:
        out.append(Finding("SIZE_LIMIT", 0, len(text), SCANNER))
    elif max_tokens is not None and estimate_tokens(text) > max_tokens:
        out.append(Finding("TOKEN_LIMIT", 0, len(text), SCANNER))
    return out
