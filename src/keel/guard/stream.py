"""Filter a streamed text chunk by chunk, so a secret split across chunks is still caught.

`StreamFilter.feed(chunk)` returns the text that is safe to send now; `close()` returns the rest.
Text is held back until its line is complete (no PII or secret pattern crosses a newline, PEM
blocks aside, which are held from BEGIN to END) and `LOOKAHEAD` characters beyond it are known,
so each decision sees the same text a whole-text scan would. A line longer than `holdback`
(4 KiB) is cut: what lies before the cut is decided then, and a candidate that reaches the cut
is redacted whole, never passed. A blocking finding stops the stream (`blocked`), and after
that nothing more is emitted.
"""

from __future__ import annotations

from keel.guard import unicode
from keel.guard.findings import Finding, resolve_overlaps
from keel.guard.policy import DEFAULT_POLICY, Policy, Stage
from keel.guard.scan import GUARD_ERROR, placeholder, scanners

HOLDBACK = 4096
LOOKAHEAD = 16  # phone context words are read up to 16 characters after a number
CONTEXT = 64  # characters of already-sent text kept as left context (\b, "SSN:" before a number)


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
        self._context = ""
        self._pending = ""
        self._sent = 0  # characters of the filtered stream decided so far
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
        if not final and self._cut(pending, []) <= 0:
            return ""  # findings only ever lower an unforced cut: nothing to decide, skip the scan
        findings = self._scan()
        if self.blocked:
            return ""
        cut = len(pending) if final else self._cut(pending, findings)
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
        self._context = (self._context + pending[:cut])[-CONTEXT:]
        self._pending = pending[cut:]
        self._sent += cut
        return "".join(out)

    def _scan(self) -> list[Finding]:
        text = self._context + self._pending
        base = len(self._context)
        found: list[Finding] = []
        for name, fn in self._scanners:
            try:
                found.extend(fn(text))
            except Exception as exc:  # same rule as the whole-text scan: policy decides
                self.errors.append(f"{name}: {type(exc).__name__}")
                if self.rules.fail_closed:
                    self.blocked_by = GUARD_ERROR
                    return []
        return [
            Finding(f.type, f.start - base, f.end - base, f.scanner)
            for f in resolve_overlaps(found)
            if f.start >= base
        ]

    def _cut(self, pending: str, findings: list[Finding]) -> int:
        """How much of `pending` can be decided now."""
        newline = pending.rfind("\n")
        cut = min(newline + 1, max(len(pending) - LOOKAHEAD, 0))
        forced = len(pending) - cut > self.holdback
        if forced:
            # decide down to half the hold-back, so a long line is scanned once per HOLDBACK/2
            # characters rather than once per chunk
            cut = len(pending) - self.holdback // 2
        for f in findings:
            unfinished_key = f.type == "PRIVATE_KEY" and "-----END" not in pending[f.start : f.end]
            if unfinished_key and not forced and f.start < cut:
                cut = f.start  # a key block whose END line has not arrived yet
                break
            if f.start < cut < f.end:
                # never split a finding: hold it back whole, or, when it is longer than the
                # hold-back allows, take it (redacted) through its current end
                cut = f.end if forced else f.start
                break
        return cut
