"""PII in text: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IP addresses.

One RE2 pattern (linear time, no backtracking; run only when `prefilter` finds one of its anchors
in the text) proposes candidates; Python validators decide:
Luhn for cards, per-country length + mod-97 for IBANs, SSA rules for SSNs, the stdlib parser for
IP addresses, shape rules for phone numbers. A run of digits and separators can hold several
numbers ("4012 8888 8888 1881, 415-555-0132"), so it is cut into digit groups and read greedily,
longest valid span first (card, then SSN, then phone); dates are skipped.
"""

from __future__ import annotations

from keel.guard import engine, prefilter
from keel.guard.findings import Finding
from keel.guard.validators import IBAN_LENGTHS, card_ok, iban_ok, ip_ok, ssn_ok

SCANNER = "pii"
TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")

_HEX = "[0-9A-Fa-f]"
_SEP = r"(?:[ \t]?[-.][ \t]?|[ \t]|[ \t]?\([ \t]?|[ \t]?\)[ \t]?)"
# The alternatives in priority order: at one position the first that matches wins.
KINDS = {
    "email": r"[A-Za-z0-9._%+'-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{2,59})\b",
    "iban": r"\b[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){8,40}",
    "ipv6": rf"(?:{_HEX}{{1,4}}:|:)(?:{_HEX}{{0,4}}:){{1,7}}"
    rf"(?:(?:\d{{1,3}}\.){{3}}\d{{1,3}}|{_HEX}{{1,4}})?(?:%[0-9A-Za-z]+)?(?:/\d{{1,3}})?",
    "num": rf"(?:\+|\(|\b)\d(?:{_SEP}?\d){{6,}}(?:[ \t]?(?:x|ext\.?|#)[ \t]?\d{{1,6}})?",
    "ipv4": r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?",
}
# No capture groups: with them RE2 runs a second, slower matcher over every hit to place them;
# `kind_of` reads the alternative off the candidate instead.
_REGEX = engine.Regex("|".join(f"(?:{rx})" for rx in KINDS.values()))
_SSN_CONTEXT = ("ssn", "social security", "social-security")
# A phone number written as one or two bare digit groups ("450 0840", "3660170548") reads like a
# street number or an ID unless a word near it says phone.
_PHONE_CONTEXT = (
    "phone", "tel", "call", "mobile", "cell", "fax", "desk", "office", "number", "contact",
    "reach", "text", "sms", "whatsapp", "answer", "dial", "ring", "messag", "home", "work",
)  # fmt: skip


def scan(text: str, types: frozenset[str] | None = None) -> list[Finding]:
    """Every PII finding in `text`, in order, without overlaps."""
    _, data, ascii_only, passes = prefilter.prepare(text)
    if prefilter.PII not in passes:
        return []
    out = _scan(text, data, ascii_only)
    if types is not None:
        out = [f for f in out if f.type in types]
    return out


def _scan(text: str, data: bytes, ascii_only: bool) -> list[Finding]:
    """The findings of one left-to-right walk over the candidates of `_REGEX`.

    A candidate consumes its text, so one that proves too long must give back what it did not
    use: an IBAN candidate starts at any two letters and two digits ("FY24") and runs on over
    single-spaced words for up to 40 characters, so when it fails (or the IBAN in it ends early)
    the search resumes inside it, or a phone number or an address it ran over would be missed.
    Matches are taken one at a time, so resuming costs one search, never a rescan of the rest.
    """
    search = _REGEX.search
    out: list[Finding] = []
    pos = 0
    byte_at = char_at = 0  # a byte offset and its character offset, at or before the next match
    while (span := search(data, pos)) is not None:
        b_start, b_end = span
        if ascii_only:
            start, end = span
        else:
            char_at += engine.char_len(data, byte_at, b_start)
            byte_at = b_start
            start, end = char_at, char_at + engine.char_len(data, b_start, b_end)
        pos = b_end
        kind = kind_of(text[start:end])
        if kind == "num":
            out.extend(_numbers(text, start, end))
        elif kind == "email":
            out.append(Finding("EMAIL_ADDRESS", start, end, SCANNER))
        elif kind == "ipv4":
            if _ipv4_bounded(text, start, end) and ip_ok(text[start:end]):
                out.append(Finding("IP_ADDRESS", start, end, SCANNER))
        elif kind == "ipv6":
            found = _ipv6(text, start, end)
            if found:
                out.append(found)
        else:
            found, rest = _iban(text, start, end)
            if found:
                out.append(found)
            if rest < end:
                pos = b_start + (rest - start if ascii_only else len(text[start:rest].encode()))
    return out


def kind_of(candidate: str) -> str:
    """Which alternative of `KINDS` matched `candidate`, told by the characters each can hold.

    Only an e-mail address holds "@"; of the rest only IPv6 holds ":"; of the rest only an IBAN
    starts with a letter. A number and an IPv4 address start with a digit: an IPv4 candidate holds
    "/" (a number never does) or at most 6 digits, so with its three dots it is shorter than 10
    characters (a number holds at least 7 digits, and 7 would have made the number alternative,
    tried first, match instead).
    """
    if "@" in candidate:
        return "email"
    if ":" in candidate:
        return "ipv6"
    if candidate[0].isalpha():
        return "iban"
    if "/" in candidate or (len(candidate) < 10 and candidate.count(".") == 3):
        return "ipv4"
    return "num"


_VERSION_WORDS = ("version", "ver.", "firmware")


def _ipv4_bounded(text: str, start: int, end: int) -> bool:
    # "1.2.3.4.5" and "version 1.2.3.4" are version numbers, not addresses
    after = text[end : end + 2]
    if after[:1].isalnum() or (after[:1] == "." and after[1:2].isdigit()):
        return False
    before = text[max(0, start - 10) : start].lower()
    return not any(map(before.__contains__, _VERSION_WORDS))


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


def _iban(text: str, start: int, end: int) -> tuple[Finding | None, int]:
    """The IBAN at `start` if the candidate holds a valid one, and where the search resumes."""
    found = _valid_iban(text, start, end)
    return found, found.end if found else _iban_like_end(text, start, end)


def _iban_like_end(text: str, start: int, end: int) -> int:
    """Where the IBAN-like part of a candidate ends: its first token ("DE89..."), then groups of
    at most four characters, a letters-only one only second (a bank code: "GB82 WEST"), up to
    the first group that breaks that ("FY24 call me on 415 ...", "FY24 CALL ME AT 415 ...").
    What looks like an IBAN with bad check digits is used up, so its digits are not read again
    as a phone number; the words after it are given back."""
    pos = last = start
    groups = 0
    while pos < end:
        stop = pos
        while stop < end and text[stop] not in " -":
            stop += 1
        token = text[pos:stop]
        groups += 1
        if groups > 1 and (len(token) > 4 or (token.isalpha() and (token.islower() or groups > 2))):
            break
        last, pos = stop, stop + 1
    return last


def _valid_iban(text: str, start: int, end: int) -> Finding | None:
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


def _parse_groups(
    text: str, start: int, end: int
) -> tuple[list[int], list[int], list[str], list[str]]:
    """A run's digit groups: their starts, ends, digits, and the separator before each.

    A separator is what lies between two groups with spaces and tabs removed ("-", ".", "(", ")"),
    or " " when there were only those ("" before the first group). An extension ("x12",
    "ext. 12", "#12") ends the groups.
    """
    run = text[start:end]
    if run.isdigit():  # the common case: one group, no separator, no extension
        return [start], [end], [run], [""]
    starts: list[int] = []
    ends: list[int] = []
    digits: list[str] = []
    seps: list[str] = []
    pos = start
    sep = ""
    while pos < end:
        ch = text[pos]
        if ch.isdigit():
            g_start = pos
            pos += 1
            while pos < end and text[pos].isdigit():
                pos += 1
            starts.append(g_start)
            ends.append(pos)
            digits.append(text[g_start:pos])
            seps.append(sep)
            sep = ""
            continue
        if ch in "x#e" and starts:
            break  # an extension: the rest of the run
        sep = sep or " " if ch in " \t" else ch if sep in ("", " ") else sep + ch
        pos += 1
    seps[0] = ""
    return starts, ends, digits, seps


def _numbers(text: str, start: int, end: int) -> list[Finding]:
    plus = text[start] == "+"
    if end < len(text) and text[end].isalpha() and text[end] not in "xX":
        return []  # "1234567abc" is an identifier, not a number
    if "isbn" in text[max(0, start - 10) : start].lower():
        return []  # "ISBN 978-3-16-148410-0" is a book
    starts, ends, digits, seps = _parse_groups(text, start, end)
    n = len(digits)
    has_ext = ends[-1] != end
    if n == 4 and seps[1] == seps[2] == seps[3] == ".":
        return _dotted_ip(text, starts[0], ends[3])
    joined = "".join(digits)
    if not plus and 13 <= len(joined) <= 19 and _card_shaped(digits, seps):
        # grouped like a card: a card or nothing, never phone numbers cut out of it
        if _is_card(digits, seps[1:], joined):
            return [Finding("CREDIT_CARD", starts[0], ends[-1], SCANNER)]
        return []
    out: list[Finding] = []
    i = 0
    while i < n:
        if i + 3 <= n and _date_at(digits[i : i + 3], seps[i + 1], seps[i + 2]):
            i += 3
            continue
        hit = None
        if i and seps[i] != " ":
            i += 1  # "-" and "." bind groups into one token: no number starts inside one
            continue
        for k in range(min(n - i, 8), 0, -1):
            if i + k < n and seps[i + k] != " ":
                continue
            joined = "".join(digits[i : i + k])
            if len(joined) > 19:
                continue
            if len(joined) < 7:
                break  # too short for a phone number, and so for every shorter span too
            kind = _classify(
                text, starts[i], ends[i + k - 1], digits[i : i + k], seps[i + 1 : i + k], joined,
                plus and i == 0,
            )  # fmt: skip
            if kind:
                hit = (kind, k)
                break
        if hit is None:
            i += 1
            continue
        kind, k = hit
        s = start if i == 0 and text[start] in "+(" else starts[i]
        e = ends[i + k - 1]
        if kind == "PHONE_NUMBER":
            if i + k == n and has_ext:
                e = end
            elif e < len(text) and text[e] == ")" and "(" in text[s:e]:
                e += 1
        out.append(Finding(kind, s, e, SCANNER))
        i += k
    return out


def _date_at(groups: list[str], sep_b: str, sep_c: str) -> bool:
    """Three groups that read as a date (2024-05-17, 17.05.2024)."""
    if sep_b != sep_c or sep_b not in ("-", "."):
        return False
    a, b, c = groups
    sizes = (len(a), len(b), len(c))
    if sizes == (4, 2, 2):
        return 1 <= int(b) <= 12 and 1 <= int(c) <= 31
    if sizes[2] == 4 and sizes[0] <= 2 and sizes[1] <= 2:
        x, y = int(a), int(b)
        return 1 <= x <= 31 and 1 <= y <= 31 and (x <= 12 or y <= 12)
    return False


def _classify(
    text: str, start: int, end: int, groups: list[str], seps: list[str], digits: str, plus: bool
) -> str | None:
    """A span of groups (from `start` to `end`, `seps` between them, `digits` joined): its type."""
    if not plus and _is_card(groups, seps, digits):
        return "CREDIT_CARD"
    if not plus and _is_ssn(text, start, groups, seps, digits):
        return "US_SSN"
    if _is_phone(groups, seps, digits, plus) and (
        plus or len(groups) > 2 or "(" in seps or _phone_context(text, start, end)
    ):
        return "PHONE_NUMBER"
    return None


def _phone_context(text: str, start: int, end: int) -> bool:
    """A phone word in the 40 characters before or the 16 after (not across the number)."""
    near = f"{text[max(0, start - 40) : start]}\n{text[end : end + 16]}".lower()
    return any(map(near.__contains__, _PHONE_CONTEXT))


def _dotted_ip(text: str, start: int, end: int) -> list[Finding]:
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


def _card_shaped(groups: list[str], seps: list[str]) -> bool:
    """All groups of 4+ digits, one separator throughout, space or dash (`seps[0]` is unused)."""
    return (
        len(groups) > 1
        and seps[1] in (" ", "-")
        and seps.count(seps[1]) == len(seps) - 1
        and all(len(g) >= 4 for g in groups)
    )


def _is_card(groups: list[str], seps: list[str], digits: str) -> bool:
    if len(digits) < 12 or (
        seps and (seps[0] not in (" ", "-") or seps.count(seps[0]) < len(seps))
    ):
        return False
    if any(len(g) < 3 for g in groups):
        return False
    return card_ok(digits)


def _is_ssn(text: str, start: int, groups: list[str], seps: list[str], digits: str) -> bool:
    if len(digits) != 9:
        return False
    sizes = tuple(map(len, groups))
    if sizes == (3, 2, 4):
        if seps[0] != seps[1] or seps[0] not in ("-", ".", " "):
            return False
    elif sizes in ((3, 6), (5, 4)):
        if seps[0] != "-":
            return False
    elif sizes == (9,):
        before = text[max(0, start - 40) : start].lower()
        if not any(map(before.__contains__, _SSN_CONTEXT)):
            return False
    else:
        return False
    return ssn_ok(digits[:3], digits[3:5], digits[5:])


def _is_phone(groups: list[str], seps: list[str], digits: str, plus: bool) -> bool:
    n = len(digits)
    if n < 7 or n > 15 or len(set(digits)) < 3:
        return False
    dots = seps.count(".")
    if dots and dots < len(seps):
        return False  # "693-09.4444": mixed separators
    if plus:
        return n >= 8
    k = len(groups)
    if n == 9 and tuple(map(len, groups)) == (3, 2, 4):
        return False  # the SSN shape
    if k == 1:
        return n in (10, 11)
    if k == 2:
        first, last = groups
        if dots or len(first) > 4 or len(last) < 3:
            return False
        return not (_year(first) and _year(last))
    # 1.000.000 is a thousands-grouped number, not a phone
    return not (dots and all(len(g) == 3 for g in groups[1:]))


def _year(digits: str) -> bool:
    return len(digits) == 4 and 1800 <= int(digits) <= 2100
