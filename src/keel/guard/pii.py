"""PII in text: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IP addresses.

One RE2 pattern (linear time, no backtracking) proposes candidates; Python validators decide:
Luhn for cards, per-country length + mod-97 for IBANs, SSA rules for SSNs, the stdlib parser for
IP addresses, shape rules for phone numbers. A run of digits and separators can hold several
numbers ("4012 8888 8888 1881, 415-555-0132"), so it is cut into digit groups and read greedily,
longest valid span first (card, then SSN, then phone); dates are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

from keel.guard.findings import Finding
from keel.guard.validators import IBAN_LENGTHS, card_ok, iban_ok, ip_ok, ssn_ok

SCANNER = "pii"
TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")

_HEX = "[0-9A-Fa-f]"
_SEP = r"(?:[ \t]?[-.][ \t]?|[ \t]|[ \t]?\([ \t]?|[ \t]?\)[ \t]?)"
_PATTERN = (
    r"(?P<email>[A-Za-z0-9._%+'-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{2,59})\b)"
    r"|(?P<iban>\b[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){8,40})"
    rf"|(?P<ipv6>(?:{_HEX}{{1,4}}:|:)(?:{_HEX}{{0,4}}:){{1,7}}"
    rf"(?:(?:\d{{1,3}}\.){{3}}\d{{1,3}}|{_HEX}{{1,4}})?(?:%[0-9A-Za-z]+)?(?:/\d{{1,3}})?)"
    rf"|(?P<num>(?:\+|\(|\b)\d(?:{_SEP}?\d){{6,}}(?:[ \t]?(?:x|ext\.?|#)[ \t]?\d{{1,6}})?)"
    r"|(?P<ipv4>\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?)"
)
_REGEX = re2.compile(_PATTERN)
_GROUP = {index: name for name, index in _REGEX.groupindex.items()}  # faster than Match.lastgroup
_SSN_CONTEXT = ("ssn", "social security", "social-security")
# A phone number written as one or two bare digit groups ("450 0840", "3660170548") reads like a
# street number or an ID unless a word near it says phone.
_PHONE_CONTEXT = (
    "phone", "tel", "call", "mobile", "cell", "fax", "desk", "office", "number", "contact",
    "reach", "text", "sms", "whatsapp", "answer", "dial", "ring", "messag", "home", "work",
)  # fmt: skip


def scan(text: str, types: frozenset[str] | None = None) -> list[Finding]:
    """Every PII finding in `text`, in order, without overlaps."""
    out: list[Finding] = []
    for match in _REGEX.finditer(text):
        kind = _GROUP[match.lastindex]
        start, end = match.span()
        if kind == "email":
            out.append(Finding("EMAIL_ADDRESS", start, end, SCANNER))
        elif kind == "num":
            out.extend(_numbers(text, start, end))
        elif kind == "ipv4":
            if _ipv4_bounded(text, start, end) and ip_ok(text[start:end]):
                out.append(Finding("IP_ADDRESS", start, end, SCANNER))
        elif kind == "ipv6":
            found = _ipv6(text, start, end)
            if found:
                out.append(found)
        elif kind == "iban":
            found = _iban(text, start, end)
            if found:
                out.append(found)
    if types is not None:
        out = [f for f in out if f.type in types]
    return out


def _ipv4_bounded(text: str, start: int, end: int) -> bool:
    # "1.2.3.4.5" is a version number, not an address
    after = text[end : end + 2]
    return not (after[:1].isalnum() or (after[:1] == "." and after[1:2].isdigit()))


def _ipv6(text: str, start: int, end: int) -> Finding | None:
    if start and (text[start - 1].isalnum() or text[start - 1] in ":."):
        return None
    candidate = text[start:end]
    if candidate.count(":") < 2 or not ip_ok(candidate):
        return None
    after = text[end : end + 2]
    if after[:1].isalnum() or after[:1] == ":" or (after[:1] == "." and after[1:2].isdigit()):
        return None
    return Finding("IP_ADDRESS", start, end, SCANNER)


def _iban(text: str, start: int, end: int) -> Finding | None:
    country = text[start : start + 2].upper()
    length = IBAN_LENGTHS.get(country)
    if length is None:
        return None
    chars: list[str] = []
    pos = start
    sep = ""
    while pos < end and len(chars) < length:
        ch = text[pos]
        if ch in " -":
            if (sep and ch != sep) or pos + 1 >= end or text[pos + 1] in " -":
                return None
            sep = ch
        else:
            chars.append(ch)
        pos += 1
    compact = "".join(chars)
    if len(compact) != length or (pos < len(text) and text[pos].isalnum()):
        return None
    letters = [c for c in compact if c.isalpha()]
    if not (all(c.isupper() for c in letters) or all(c.islower() for c in letters)):
        return None
    if not iban_ok(compact.upper()):
        return None
    return Finding("IBAN_CODE", start, pos, SCANNER)


@dataclass(slots=True)
class _Group:
    start: int
    end: int
    digits: str
    sep: str  # separator before this group, spaces removed ("" for none, " " for spaces only)


def _parse_groups(text: str, start: int, end: int) -> tuple[list[_Group], int]:
    """Digit groups of a run; returns them and where an extension (x123) ends, or `end`."""
    groups: list[_Group] = []
    pos = start
    sep = ""
    while pos < end:
        ch = text[pos]
        if ch.isdigit():
            g_start = pos
            while pos < end and text[pos].isdigit():
                pos += 1
            groups.append(_Group(g_start, pos, text[g_start:pos], sep or ""))
            sep = ""
            continue
        if ch in "x#e" and groups:
            return groups, end  # extension: the rest of the run
        sep = sep or " " if ch in " \t" else ch if sep in ("", " ") else sep + ch
        pos += 1
    return groups, end


def _numbers(text: str, start: int, end: int) -> list[Finding]:
    plus = text[start] == "+"
    if end < len(text) and text[end].isalpha() and text[end] not in "xX":
        return []  # "1234567abc" is an identifier, not a number
    groups, ext_end = _parse_groups(text, start, end)
    if not groups:
        return []
    has_ext = ext_end != groups[-1].end
    if len(groups) == 4 and all(g.sep == "." for g in groups[1:]):
        return _dotted_ip(text, groups)
    digits = "".join(g.digits for g in groups)
    seps = [g.sep for g in groups[1:]]
    if not plus and 13 <= len(digits) <= 19 and _card_shaped(groups, seps):
        # grouped like a card: a card or nothing, never phone numbers cut out of it
        if _is_card(groups, digits, seps):
            return [Finding("CREDIT_CARD", groups[0].start, groups[-1].end, SCANNER)]
        return []
    out: list[Finding] = []
    i = 0
    n = len(groups)
    while i < n:
        if _date_at(groups, i):
            i += 3
            continue
        hit = None
        if i and groups[i].sep != " ":
            i += 1  # "-" and "." bind groups into one token: no number starts inside one
            continue
        for k in range(min(n - i, 8), 0, -1):
            if i + k < n and groups[i + k].sep != " ":
                continue
            span = groups[i : i + k]
            digits = "".join(g.digits for g in span)
            if len(digits) > 19:
                continue
            kind = _classify(text, span, digits, plus and i == 0)
            if kind:
                hit = (kind, k)
                break
        if hit is None:
            i += 1
            continue
        kind, k = hit
        s = start if i == 0 and text[start] in "+(" else groups[i].start
        e = groups[i + k - 1].end
        if kind == "PHONE_NUMBER":
            if i + k == n and has_ext:
                e = ext_end
            elif e < len(text) and text[e] == ")" and "(" in text[s:e]:
                e += 1
        out.append(Finding(kind, s, e, SCANNER))
        i += k
    return out


def _date_at(groups: list[_Group], i: int) -> bool:
    if i + 3 > len(groups):
        return False
    a, b, c = groups[i : i + 3]
    if b.sep != c.sep or b.sep not in ("-", ".", "/"):
        return False
    sizes = (len(a.digits), len(b.digits), len(c.digits))
    if sizes == (4, 2, 2):
        return 1 <= int(b.digits) <= 12 and 1 <= int(c.digits) <= 31
    if sizes[2] == 4 and sizes[0] <= 2 and sizes[1] <= 2:
        x, y = int(a.digits), int(b.digits)
        return 1 <= x <= 31 and 1 <= y <= 31 and (x <= 12 or y <= 12)
    return False


def _classify(text: str, span: list[_Group], digits: str, plus: bool) -> str | None:
    seps = [g.sep for g in span[1:]]
    if not plus and _is_card(span, digits, seps):
        return "CREDIT_CARD"
    if not plus and _is_ssn(text, span, digits, seps):
        return "US_SSN"
    if _is_phone(span, digits, seps, plus) and (
        plus or len(span) > 2 or "(" in "".join(seps) or _phone_context(text, span)
    ):
        return "PHONE_NUMBER"
    return None


def _phone_context(text: str, span: list[_Group]) -> bool:
    before = text[max(0, span[0].start - 40) : span[0].start].lower()
    after = text[span[-1].end : span[-1].end + 16].lower()
    return any(word in before or word in after for word in _PHONE_CONTEXT)


def _dotted_ip(text: str, groups: list[_Group]) -> list[Finding]:
    start, end = groups[0].start, groups[3].end
    if start and (text[start - 1].isalnum() or text[start - 1] == "."):
        return []
    if text[end : end + 1] == "/":
        prefix = end + 1
        while prefix < len(text) and prefix - end <= 2 and text[prefix].isdigit():
            prefix += 1
        if prefix > end + 1:
            end = prefix
    if not _ipv4_bounded(text, start, end) or not ip_ok(text[start:end]):
        return []
    return [Finding("IP_ADDRESS", start, end, SCANNER)]


def _card_shaped(groups: list[_Group], seps: list[str]) -> bool:
    return (
        len(groups) > 1
        and len(set(seps)) == 1
        and seps[0] in (" ", "-")
        and all(len(g.digits) >= 4 for g in groups)
    )


def _is_card(span: list[_Group], digits: str, seps: list[str]) -> bool:
    if len(digits) < 12 or len(set(seps)) > 1 or (seps and seps[0] not in (" ", "-")):
        return False
    if any(len(g.digits) < 3 for g in span):
        return False
    return card_ok(digits)


def _is_ssn(text: str, span: list[_Group], digits: str, seps: list[str]) -> bool:
    if len(digits) != 9:
        return False
    sizes = tuple(len(g.digits) for g in span)
    if sizes == (3, 2, 4):
        if seps[0] != seps[1] or seps[0] not in ("-", ".", " "):
            return False
    elif sizes in ((3, 6), (5, 4)):
        if seps[0] != "-":
            return False
    elif sizes == (9,):
        before = text[max(0, span[0].start - 40) : span[0].start].lower()
        if not any(word in before for word in _SSN_CONTEXT):
            return False
    else:
        return False
    return ssn_ok(digits[:3], digits[3:5], digits[5:])


def _is_phone(span: list[_Group], digits: str, seps: list[str], plus: bool) -> bool:
    n = len(digits)
    if n < 7 or n > 15 or len(set(digits)) < 3:
        return False
    if any("/" in s or len(s.replace("(", "").replace(")", "")) > 1 for s in seps):
        return False
    dots = ["." in s for s in seps]
    if any(dots) and not all(dots):
        return False  # "693-09.4444": mixed separators
    k = len(span)
    if plus:
        return n >= 8
    if n == 9 and tuple(len(g.digits) for g in span) == (3, 2, 4):
        return False  # the SSN shape
    if k == 1:
        return n in (10, 11)
    if k == 2:
        first, last = span[0].digits, span[1].digits
        if all(dots) or len(first) > 4 or len(last) < 3:
            return False
        return not (_year(first) and _year(last))
    # 1.000.000 is a thousands-grouped number, not a phone
    return not (all(dots) and all(len(g.digits) == 3 for g in span[1:]))


def _year(digits: str) -> bool:
    return len(digits) == 4 and 1800 <= int(digits) <= 2100
