"""Invisible and control characters: found, stripped, or cause to block.

Covered: C0/C1 controls except tab, newline and carriage return; zero-width and joiner characters;
bidirectional embeddings, overrides and isolates (the "Trojan Source" trick); the BOM and word
joiner; invisible math operators; the soft hyphen; Unicode tag characters (U+E0000 block, used
to smuggle ASCII past a reader); variation selectors (used to hide bytes after a visible glyph).
Emoji lose their ZWJ and variation selectors when stripped; they stay readable.
"""

from __future__ import annotations

import re2

from keel.guard.findings import Finding

SCANNER = "unicode"
TYPE = "INVISIBLE_CHARACTER"

_CLASS = (
    r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{AD}\x{34F}\x{61C}\x{115F}\x{1160}\x{17B4}\x{17B5}"
    r"\x{180B}-\x{180F}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{206F}\x{3164}\x{FE00}-\x{FE0F}"
    r"\x{FEFF}\x{FFA0}\x{FFF9}-\x{FFFB}\x{1D173}-\x{1D17A}\x{E0000}-\x{E007F}\x{E0100}-\x{E01EF}]+"
)
_REGEX = re2.compile(_CLASS)


def scan(text: str) -> list[Finding]:
    """One finding per run of invisible or control characters."""
    if text.isascii() and text.isprintable():
        return []
    return [Finding(TYPE, m.start(), m.end(), SCANNER) for m in _REGEX.finditer(text)]


def strip(text: str) -> str:
    """`text` without any invisible or control character."""
    if text.isascii() and text.isprintable():
        return text
    return _REGEX.sub("", text)
