"""RE2 as the PII and secrets scanners call it: compiled once, called without the binding's Python layer.

google-re2's `finditer` spends more time in Python than RE2 spends matching a short text: it
re-encodes the text on every call, maps every span back to character offsets, and builds a
generator and a Match object per hit. The scanners encode a text once (`encode`) and call the
compiled C++ object directly (`_re2.RE2.Match`, `_re2.Set.Match`: the module the public wrapper is
written over; google-re2 is pinned below 2 for it). For ASCII text byte offsets are character
offsets; otherwise `to_chars` converts the spans of one scan in one left-to-right walk, so a scan
stays linear in the text.

A `Set` answers "which of these patterns occur anywhere" in one forward DFA scan (no start
positions, no captures); the scanners use one as a prefilter that lets a text skip the passes none
of whose candidates can occur in it. RE2's set matcher never gives up on a hostile text (it keeps
flushing its DFA cache instead of bailing out, since it has no NFA to fall back on), so an empty
answer means no pattern matched, not that matching failed.
"""

from __future__ import annotations

import re2
from re2 import _re2

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED


def options(max_mem: int | None = None) -> re2.Options:
    opts = re2.Options()
    if max_mem is not None:
        opts.max_mem = max_mem
    return opts


class Regex:
    """One compiled pattern; `spans` and `groups` walk its leftmost-first matches like `finditer`."""

    __slots__ = ("_match", "groupindex", "pattern")

    def __init__(self, pattern: str, opts: re2.Options | None = None):
        compiled = _re2.RE2(pattern.encode(), opts or re2.Options())
        if not compiled.ok():
            raise re2.error(compiled.error())
        self.pattern = pattern
        self.groupindex = {name.decode(): index for name, index in compiled.NamedCapturingGroups()}
        self._match = compiled.Match

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        """Byte spans of every match, left to right, not overlapping (none of ours is empty)."""
        match = self._match
        end = len(data)
        out: list[tuple[int, int]] = []
        pos = 0
        while True:
            span = match(_UNANCHORED, data, pos, end)[0]
            if span[1] < 0:
                return out
            out.append(span)
            pos = span[1] if span[1] > span[0] else span[1] + 1

    def search(self, data: bytes, pos: int) -> tuple[int, int] | None:
        """The byte span of the leftmost match starting at or after `pos`, or None."""
        span = self._match(_UNANCHORED, data, pos, len(data))[0]
        return span if span[1] >= 0 else None

    def groups(self, data: bytes) -> list[tuple[int, int, int]]:
        """(group index, start, end) of every match, for a pattern that is an alternation of
        top-level groups: the group that matched is the one whose span is the whole match."""
        match = self._match
        end = len(data)
        out: list[tuple[int, int, int]] = []
        pos = 0
        while True:
            spans = match(_UNANCHORED, data, pos, end)
            whole = spans[0]
            if whole[1] < 0:
                return out
            out.append((spans.index(whole, 1), whole[0], whole[1]))
            pos = whole[1] if whole[1] > whole[0] else whole[1] + 1


class Set:
    """Patterns searched together: `match(data)` lists the indices of those found anywhere."""

    __slots__ = ("_set", "match")

    def __init__(self, patterns: list[str], opts: re2.Options | None = None):
        self._set = _re2.Set(_UNANCHORED, opts or re2.Options())
        for i, pattern in enumerate(patterns):
            if self._set.Add(pattern.encode()) != i:
                raise re2.error(f"cannot add {pattern!r} to a set")
        if not self._set.Compile():
            raise re2.error("cannot compile the set")
        self.match = self._set.Match


def encode(text: str) -> tuple[bytes, bool]:
    """UTF-8 bytes of `text` and whether byte offsets are character offsets (ASCII text)."""
    data = text.encode()
    return data, len(data) == len(text)


def char_len(data: bytes, start: int, end: int) -> int:
    """How many characters of UTF-8 `data` start in data[start:end]."""
    return _re2.BytesToCharLen(data, start, end)


def to_chars(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte spans (sorted, not overlapping) as character offsets, in one walk over `data`."""
    count = _re2.BytesToCharLen  # characters that start in data[pos:endpos]
    out: list[tuple[int, int]] = []
    byte = char = 0
    for start, end in spans:
        char += count(data, byte, start)
        first = char
        char += count(data, start, end)
        byte = end
        out.append((first, char))
    return out
