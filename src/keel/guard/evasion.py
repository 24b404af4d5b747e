# ruff: noqa: RUF002  (look-alike letters are this module's subject)
"""Undo the obvious disguises of an instruction before the injection model reads it.

`variants(text)` is the text with every disguise found in it undone, or [] when there is
none; `injection.score` reads the larger of the two scores, so a disguise can only raise a
score, and benign text without one costs a few cheap checks. Undone:

- look-alike letters (Cyrillic `а`, Greek `ο`, ...): in a word that mixes Latin letters with
  others, each letter with a Latin look-alike in Unicode's confusables data (UTS #39, shipped
  by the confusable-homoglyphs package) or in `_MORE` (Greek and Cyrillic letters that look
  Latin but that data pairs with other letters: epsilon, kappa, tau, chi, ka, te, em, ...) is
  read as that letter; a word with no Latin letter is read in Latin only when all its letters
  have a confusables entry (so "іgnоrе" and "ореn" are read, a Russian word stays as it is);
- leetspeak: when digits or symbols stand between letters in two or more different places
  (`1gn0r3`, `pr3v10u5`; one name such as "Dis0rder", however often, is not leet),
  the words that mix letters and such characters are read with them as letters;
- base64 and hex: a run of 20+ base64 characters (16+ hex bytes) that decodes to printable
  UTF-8 text is replaced by that text;
- rot13: when two or more different words of the text are rot13 forms of common English words
  (`gur`, `naq`, `lbh`, `vtaber`, ...), the text is read rotated.

Full-width forms are folded already (NFKC in `features.normalize`), zero-width characters are
stripped before any scanner runs, and a message split over several messages is scored per
message and, for the side fields of a request, as one document.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import string
from functools import lru_cache

import re2
from confusable_homoglyphs import utils as confusables_data

_LEET = str.maketrans("0134578@$!|+9", "oieastbasiltg")
_LEET_L = str.maketrans("0134578@$!|+9", "oleastbasiltg")  # the other reading of 1
_LEET_CHARS = "0134578@$!|+9"
_LEET_TRIGGER = re2.compile(r"[A-Za-z][0134578@$!|+9]+[A-Za-z]")
_LEET_WORD = re.compile(r"[A-Za-z0134578@$!|+9]*[A-Za-z][A-Za-z0134578@$!|+9]*")
_B64_RX = r"[A-Za-z0-9+/_\-]{20,}={0,2}|(?:[0-9A-Fa-f]{2}){16,}"
_B64 = re2.compile(_B64_RX)
_MAX_BLOB = 65536  # longer runs are binary payloads, not disguised instructions
_COMMON = [
    "the",
    "and",
    "you",
    "your",
    "all",
    "ignore",
    "previous",
    "instructions",
    "this",
    "that",
    "with",
    "for",
    "not",
    "what",
    "system",
    "prompt",
    "are",
    "from",
    "now",
    "must",
    "tell",
    "reveal",
    "rules",
    "forget",
    "above",
]
_ROT13_TRIGGER = re2.compile(
    r"(?i)\b(?:" + "|".join(codecs.encode(w, "rot13") for w in _COMMON) + r")\b"
)
# One RE2 set scan tells whether any encoding or leet trigger is there at all (most texts:
# none, and then the cost is this one scan and an ASCII check).
_GATE = re2.Set.SearchSet(re2.Options())
for _rx in (_B64_RX, _ROT13_TRIGGER.pattern, _LEET_TRIGGER.pattern):
    _GATE.Add(_rx)
_GATE.Compile()
_B64_AT, _ROT13_AT, _LEET_AT = 0, 1, 2


def _gate(text: str) -> set[int]:
    return set(_GATE.Match(text.encode("utf-8", "replace")) or ())


_PRINTABLE = frozenset(string.printable)


@lru_cache(maxsize=1)
def lookalikes() -> dict[int, str]:
    """Non-ASCII character -> the lower-case ASCII letter or digit it is confusable with."""
    data = confusables_data.load("confusables.json")
    ascii_alnum = set(string.ascii_letters + string.digits)

    def target(ch: str) -> str | None:
        found = [e["c"] for e in data.get(ch, ()) if e["c"] in ascii_alnum]
        letters = [c for c in found if c.isalpha()]
        return (letters or found or [None])[0]

    table: dict[int, str] = {}
    for ch in data:
        if len(ch) != 1 or ch.isascii():
            continue
        mapped = target(ch.lower()) or target(ch)
        if mapped:
            table[ord(ch)] = mapped.lower()
    return table


# Letters that look Latin in most fonts but that confusables.txt pairs with other letters only
_MORE = str.maketrans(
    "εΕκΚτΤχΧηγωνμМмКкТтНнВвГгПпИиЅ",
    "eekkttxxnywvummkkttHhbbrrnnuus",
)


@lru_cache(maxsize=1)
def _mixed_table() -> dict[int, str]:
    return {**{k: chr(v).lower() for k, v in _MORE.items()}, **lookalikes()}


def _fold_word(match: re.Match) -> str:
    word = match.group()
    if word.isascii():
        return word
    if any(ch.isascii() for ch in word):  # mixed script: every look-alike is a disguise
        return word.translate(_mixed_table())
    table = lookalikes()
    if all(ord(ch) in table for ch in word):
        return word.translate(table)
    return word


@lru_cache(maxsize=1)
def _any_lookalike() -> re2._Regexp:
    """Any letter with a Latin look-alike (RE2: one linear scan, whatever the class's size)."""
    chars = "".join(f"\\x{{{c:x}}}" for c in sorted(_mixed_table()))
    return re2.compile(f"[{chars}]")


_WORD = re.compile(r"[^\W\d_]+")


def fold_lookalikes(text: str) -> str:
    """`text` with look-alike letters read as Latin (only texts that hold one are walked)."""
    if text.isascii() or not _any_lookalike().search(text):
        return text
    return _WORD.sub(_fold_word, text)


def _leet(table: dict[int, str]):
    def read(match: re.Match) -> str:
        word = match.group()
        return word.translate(table) if any(c in _LEET_CHARS for c in word) else word

    return read


def _decode(blob: str) -> str:
    if len(blob) > _MAX_BLOB:
        return blob
    raw = None
    try:
        if len(blob) % 2 == 0 and all(c in string.hexdigits for c in blob):
            raw = binascii.unhexlify(blob)
        else:
            padded = blob + "=" * (-len(blob) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return blob
    printable = sum(c in _PRINTABLE or c.isalpha() for c in decoded)
    if " " not in decoded or printable < 0.9 * len(decoded):
        return blob
    return f" {decoded} "


def variants(text: str) -> list[str]:
    """`text` with its disguises undone (two readings when leetspeak's 1 may be i or l), or []
    when it shows none."""
    out = fold_lookalikes(text)
    hits = _gate(out)
    if not hits:
        return [out] if out != text else []
    if _B64_AT in hits:
        blobs = [(m.start(), m.end()) for m in _B64.finditer(out)]
        parts, pos = [], 0
        for start, end in blobs:
            parts += [out[pos:start], _decode(out[start:end])]
            pos = end
        decoded = "".join([*parts, out[pos:]])
        if decoded != out:
            out, hits = decoded, _gate(decoded)  # what was decoded may be rot13 or leet
    if _ROT13_AT in hits and len({w.lower() for w in _ROT13_TRIGGER.findall(out)}) >= 2:
        out = codecs.encode(out, "rot13")
        hits = _gate(out)
    found = [out]
    # distinct: one name ("Dis0rder"), however often, is not leetspeak
    if _LEET_AT in hits and len(set(_LEET_TRIGGER.findall(out))) >= 2:
        found = [_LEET_WORD.sub(_leet(_LEET), out)]
        if "1" in out:
            found.append(_LEET_WORD.sub(_leet(_LEET_L), out))
    return [v for v in found if v != text]


def variants_of(texts: list[str]) -> list[list[str]]:
    """`[variants(t) for t in texts]`, with one check for the common case: texts all ASCII and
    no encoding or leet trigger anywhere in them joined (a trigger in a text is one in the join)."""
    if all(t.isascii() for t in texts) and not _gate("\n".join(texts)):
        return [[] for _ in texts]
    return [variants(t) for t in texts]
