"""Filter a streamed text chunk by chunk, so a secret split across chunks is still caught.

`StreamFilter.feed(chunk)` returns the text that is safe to send now; `close()` returns the rest.
Text is held back until its line is complete (no PII or secret pattern crosses a newline, PEM
blocks aside, which are held from BEGIN to END) and `LOOKAHEAD` characters beyond it are known,
so each decision sees the same text a whole-text scan would. A long line is also released
between two plain words outside quotes once `MIDLINE_LOOKAHEAD` characters follow (no candidate
spans such a break; see `_word_break`), so prose streams a few words behind, not a paragraph.
A line longer than `holdback` (4 KiB) with no such break is cut: what lies before the cut is
decided then, and a candidate that reaches the cut is redacted whole, never passed. A blocking
finding stops the stream (`blocked`), and after that nothing more is emitted.
"""

from __future__ import annotations

import bisect

from keel.guard import unicode
from keel.guard.findings import Finding, resolve_overlaps
from keel.guard.policy import DEFAULT_POLICY, Policy, Stage
from keel.guard.scan import GUARD_ERROR, placeholder, scanners

HOLDBACK = 4096
LOOKAHEAD = 16  # phone context words are read up to 16 characters after a number
CONTEXT = 64  # characters before the current line rescanned with it (\b, "SSN:" before a number)
# A long line is released between two plain words once this much of it follows the break
# (see `_word_break`), so prose streams in steps of a few words rather than whole paragraphs.
MIDLINE_LOOKAHEAD = 128
MIDLINE_STEP = 64  # release mid-line only this much at a time, so a line is scanned per step
_WORD_END = ",.;!?"
_QUOTES = ('"', "`", "'")


class StreamFilter:
    def __init__(
        self, stage: Stage = "output", policy: Policy = DEFAULT_POLICY, holdback: int = HOLDBACK
    ):
        self.rules = policy.stage(stage)
        self.stage: Stage = stage
        self.holdback = holdback
        self.findings: list[Finding] = []  # offsets into the filtered (stripped) stream
        self.errors: list[str] = []
        self.blocked_by: str | None = None
        self._scanners = [
            (name, fn) for name, fn in scanners(stage, self.rules) if name != "injection"
        ]
        self._sent_tail = ""  # the last HOLDBACK + CONTEXT characters sent, unredacted
        self._pending = ""
        self._sent = 0  # characters of the filtered stream decided so far
        self._forced_in_line = False  # part of the current line was decided by a forced cut
        self._received = 0

    @property
    def blocked(self) -> bool:
        return self.blocked_by is not None

    @property
    def held(self) -> int:
        """Characters received but not yet released: the hold-back delay right now."""
        return len(self._pending)

    def feed(self, chunk: str) -> str:
        if self.blocked:
            return ""
        self._received += len(chunk)
        found = unicode.scan(chunk)
        if found:
            if self.rules.unicode == "block":
                self.blocked_by = unicode.SCANNER
                return ""
            if self.rules.unicode == "redact":
                chunk = unicode.strip(chunk)
        self._pending += chunk
        if self._received > self.rules.max_chars:
            self.blocked_by = "limits"
            return ""
        return self._release(final=False)

    def close(self) -> str:
        if self.blocked:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        pending = self._pending
        if not final and self._cut(pending, [])[0] <= 0:
            return ""  # findings only ever lower an unforced cut: nothing to decide, skip the scan
        findings = self._scan()
        if self.blocked:
            return ""
        cut, forced = (len(pending), False) if final else self._cut(pending, findings)
        if cut <= 0:
            return ""
        decided = [f for f in findings if f.start < cut]
        out: list[str] = []
        pos = 0
        for f in decided:
            action = self.rules.action(f.scanner)
            self.findings.append(
                Finding(f.type, self._sent + f.start, self._sent + f.end, f.scanner)
            )
            if action == "block":
                self.blocked_by = f.scanner
                return ""
            if action == "redact":
                out.append(pending[pos : f.start])
                out.append(placeholder(f.type))
                pos = f.end
        out.append(pending[pos:cut])
        if forced or "\n" in pending[:cut]:
            self._forced_in_line = forced
        self._sent_tail = (self._sent_tail + pending[:cut])[-(self.holdback + CONTEXT) :]
        self._pending = pending[cut:]
        self._sent += cut
        return "".join(out)

    def _scan(self) -> list[Finding]:
        """Findings in `pending`, from a scan that starts where the whole-text scan's candidates
        line up: at the start of the current line (CONTEXT characters before it), since a
        candidate may run over plain words (an IBAN-like "FY24 ...") but never over a newline.
        Starting anywhere else could read the line's candidates differently and miss one."""
        tail = self._sent_tail
        context = tail[max(tail.rfind("\n") + 1 - CONTEXT, 0) :]
        text = context + self._pending
        base = len(context)
        found: list[Finding] = []
        for name, fn in self._scanners:
            try:
                found.extend(fn(text))
            except Exception as exc:  # same rule as the whole-text scan: policy decides
                self.errors.append(f"{name}: {type(exc).__name__}")
                if self.rules.fail_closed:
                    self.blocked_by = GUARD_ERROR
                    return []
        # A finding that starts in text already sent was partly sent (a forced cut, or a
        # candidate grown past one): the rest of it is still redacted, never passed.
        return [
            Finding(f.type, max(f.start - base, 0), f.end - base, f.scanner)
            for f in resolve_overlaps(found)
            if f.end > base
        ]

    def _cut(self, pending: str, findings: list[Finding]) -> tuple[int, bool]:
        """How much of `pending` can be decided now, and whether the hold-back forced it."""
        newline = pending.rfind("\n")
        cut = min(newline + 1, max(len(pending) - LOOKAHEAD, 0))
        if len(pending) - cut >= MIDLINE_LOOKAHEAD + MIDLINE_STEP:
            cut = max(cut, self._word_break(pending, newline + 1, cut + MIDLINE_STEP))
        forced = len(pending) - cut > self.holdback
        # forced: decide down to half the hold-back, so a long line is scanned once per
        # HOLDBACK/2 characters rather than once per chunk; else never past an unfinished key
        cut = len(pending) - self.holdback // 2 if forced else min(cut, _unfinished_block(pending))
        for f in findings:
            if f.start < cut < f.end:
                # never split a finding: hold it back whole, or, when it is longer than the
                # hold-back allows, take it (redacted) through its current end
                cut = f.end if forced else f.start
                break
        return cut, forced

    def _word_break(self, pending: str, line_start: int, lowest: int) -> int:
        """The last place in the line (at least `lowest`, MIDLINE_LOOKAHEAD before the end)
        where the text may be decided early, or 0.

        A break is a single space between two plain words (letters only; the left one may end
        in , . ; ! ?), which no PII or secret candidate spans: digit runs, IBAN groups, keys,
        tokens and addresses hold digits or symbols, and PEM headers start with dashes. Only
        quoted values hold plain words (`password = "..."`, `"..." == password`), and their
        closing quote or keyword may come beyond any lookahead: `_open_quote` refuses a break
        inside a quotation that is not known to close. A forced cut (line over the hold-back)
        leaves the rest of its line to be released whole. Candidates that read context (phone
        words after a number) look at most LOOKAHEAD characters ahead, well within
        MIDLINE_LOOKAHEAD, and every scan starts at the line's start (`_scan`).
        """
        if self._forced_in_line and line_start == 0:
            return 0
        line = pending[line_start:]
        known = len(line) - MIDLINE_LOOKAHEAD // 2  # a closing quote must be this far in
        quotes = [_quote_marks(line, q) for q in _QUOTES]
        pos = len(pending) - MIDLINE_LOOKAHEAD
        while pos >= lowest:
            space = pending.rfind(" ", lowest - 1, pos)
            if space < 0:
                return 0
            opened = _open_quote(line, quotes, space - line_start, known)
            if opened >= 0:
                pos = line_start + opened  # no break inside a quotation that may still go on
                continue
            left = pending[pending.rfind(" ", line_start, space) + 1 : space]
            right_end = pending.find(" ", space + 1)
            right = pending[space + 1 : right_end if right_end >= 0 else len(pending)]
            if _plain(left.rstrip(_WORD_END)) and _plain(right):
                return space + 1
            pos = space
        return 0


def _unfinished_block(pending: str) -> int:
    """Where the first `-----BEGIN` whose END line is not complete yet starts, else len(pending).

    A key block runs from BEGIN to the first complete END line after it (BEGINs inside it are
    part of it), as the whole-text scan reads it; its text is held from BEGIN whether or not a
    key finding survived the overlap resolution (a longer finding may hide a short, unfinished
    key's)."""
    begin = pending.find("-----BEGIN")
    while begin >= 0:
        end = pending.find("-----END", begin + 10)
        close = pending.find("-----", end + 8) if end >= 0 else -1
        if close < 0:
            return begin
        begin = pending.find("-----BEGIN", close + 5)
    return len(pending)


def _plain(word: str) -> bool:
    return word.isascii() and word.isalpha()


def _quote_marks(line: str, quote: str) -> list[int]:
    """Where `quote` opens or closes a quotation in `line`; a ' between two letters is an
    apostrophe ("don't"), not a quote."""
    marks: list[int] = []
    at = line.find(quote)
    while at >= 0:
        if quote != "'" or not (line[at - 1 : at].isalpha() and line[at + 1 : at + 2].isalpha()):
            marks.append(at)
        at = line.find(quote, at + 1)
    return marks


def _open_quote(line: str, quotes: list[list[int]], at: int, known: int) -> int:
    """Where a quotation that `at` may lie in opens, or -1.

    A quoted value opens after a non-alphanumeric character (`= "`, `: '`, a backtick after
    a space) and, as the scanners read it, closes at the next quote of its kind. So `at` is
    safe when, for each kind, the last quote before it does not open one (`5"`, `users'`, a
    closing quote), or the next quote after it is already `known` (the scanners then see the
    whole value and any `== key`
    after it). A ' between two letters is an apostrophe and was never counted.
    """
    opened = -1
    for marks in quotes:
        before = bisect.bisect(marks, at)
        if not before:
            continue
        mark = marks[before - 1]
        if line[mark - 1 : mark].isalnum():
            continue  # closes, or a stray mark: no value opens here
        if before < len(marks) and marks[before] < known:
            continue  # the quotation closes where the scanners can see it
        opened = mark if opened < 0 else min(opened, mark)
    return opened
