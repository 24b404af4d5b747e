"""The guard's service function: scan one text for one stage under a policy.

Order: limits first (they bound everything after), then invisible characters (stripped before the
other scanners look, so a zero-width space cannot hide a card number), then injection (input stage
only), PII and secrets (these two read the text with compatibility forms folded, `width.py`, so
full-width digits are digits). Findings carry offsets into the text as given; `ScanResult.text`
is what may pass on: stripped and redacted, or None when blocked.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from keel.guard import injection, limits, pii, prefilter, secrets, unicode, width
from keel.guard.findings import Finding, ScanResult, resolve_overlaps
from keel.guard.policy import DEFAULT_POLICY, Policy, Stage, StagePolicy

GUARD_ERROR = "guard_error"


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_secrets = width.folded(lambda t: secrets.scan(t))  # looked up per call (tests patch it)


def scanners(
    stage: Stage, rules: StagePolicy, injection_scan: bool = True
) -> list[tuple[str, Callable[[str], list[Finding]]]]:
    """The content scanners a stage runs, in order, each a function of the (stripped) text."""
    out: list[tuple[str, Callable[[str], list[Finding]]]] = []
    if stage == "input" and injection_scan:
        out.append(("injection", lambda t: injection.scan(t, rules.injection_threshold)))
    out.append(("pii", width.folded(lambda t: pii.scan(t, rules.pii_types))))
    out.append(("secrets", _secrets))
    return out


def sensitive(text: str) -> list[Finding]:
    """PII and secrets in `text` as a whole-text scan reads it (invisible characters stripped,
    compatibility forms folded), in offsets of `text`: what a payload kept at rest must lose."""
    invisible = unicode.scan(text)
    clean = unicode.strip(text) if invisible else text
    found = resolve_overlaps(width.folded(lambda t: pii.scan(t))(clean) + _secrets(clean))
    if not invisible:
        return found
    to_original = _offset_map(invisible)
    return [_shift(f, to_original) for f in found]


def scan(
    text: str, stage: Stage = "output", policy: Policy = DEFAULT_POLICY, *, injection: bool = True
) -> ScanResult:
    """The verdict on `text`; `injection=False` leaves the injection scanner out (the gateway
    scores a request's other fields as one document, `scan_injection`)."""
    rules = policy.stage(stage)
    over = limits.check(text, rules.max_chars, rules.max_tokens)
    if over:
        return ScanResult(blocked=True, findings=over, blocked_by=limits.SCANNER)

    errors: list[str] = []
    invisible = _run("unicode", unicode.scan, text, errors)
    clean = text
    if invisible and rules.unicode == "redact":
        clean = unicode.strip(text)
    to_original = _offset_map(invisible) if clean is not text else None

    found: list[Finding] = []
    for name, fn in scanners(stage, rules, injection):
        found.extend(_run(name, fn, clean, errors))
    found = resolve_overlaps(found)

    blocking = [f for f in found + invisible if rules.action(f.scanner) == "block"]
    if errors and rules.fail_closed:
        blocked_by: str | None = GUARD_ERROR
    else:
        blocked_by = blocking[0].scanner if blocking else None
    redacted = None
    if blocked_by is None:
        redacted = redact(clean, [f for f in found if rules.action(f.scanner) == "redact"])
    reported = [_shift(f, to_original) for f in found] if to_original else found
    return ScanResult(
        blocked=blocked_by is not None,
        findings=sorted(invisible + reported, key=lambda f: (f.start, f.end)),
        text=redacted,
        errors=errors,
        blocked_by=blocked_by,
    )


def quiet(texts: list[str], stage: Stage = "output", policy: Policy = DEFAULT_POLICY) -> bool:
    """True when no text of `texts` can have a finding other than injection: within limits,
    no invisible character, and none of the anchors any PII or secrets pass needs, checked
    once over them joined (an anchor in one text is an anchor in the join). Then
    `scan(t, stage, policy, injection=False)` would pass each of them unchanged."""
    rules = policy.stage(stage)
    joined = "\n".join(texts)
    if limits.check(joined, rules.max_chars, rules.max_tokens) or unicode.scan(joined):
        return False
    return not prefilter.compute(width.fold(joined)[0])[3]


def scan_injection(text: str, policy: Policy = DEFAULT_POLICY) -> ScanResult:
    """The injection scanner alone on `text` (input stage), invisible characters stripped: for a
    document made of many short fields, scored once instead of once per field."""
    rules = policy.stage("input")
    errors: list[str] = []
    found = _run(
        "injection",
        lambda t: injection.scan(t, rules.injection_threshold),
        unicode.strip(text),
        errors,
    )
    found = [Finding(f.type, 0, len(text), f.scanner, f.score) for f in found]
    if errors and rules.fail_closed:
        blocked_by: str | None = GUARD_ERROR
    else:
        blocked_by = "injection" if found and rules.injection == "block" else None
    return ScanResult(
        blocked=blocked_by is not None,
        findings=found,
        text=None if blocked_by else text,
        errors=errors,
        blocked_by=blocked_by,
    )


def redact(text: str, findings: list[Finding]) -> str:
    """`text` with each finding's span replaced by its placeholder (findings must not overlap)."""
    if not findings:
        return text
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        parts.append(text[pos : f.start])
        parts.append(placeholder(f.type))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def _run(
    name: str, fn: Callable[[str], list[Finding]], text: str, errors: list[str]
) -> list[Finding]:
    try:
        return fn(text)
    except Exception as exc:  # a broken scanner must not crash the request; policy decides
        errors.append(f"{name}: {type(exc).__name__}")
        return []


def _offset_map(removed: list[Finding]) -> Callable[[int], int]:
    """Map an offset in the stripped text back to the original, given the removed runs."""
    starts: list[int] = []  # run start in stripped coordinates
    shifts: list[int] = []  # characters removed up to and including this run
    total = 0
    for f in removed:
        starts.append(f.start - total)
        total += f.end - f.start
        shifts.append(total)

    def to_original(pos: int) -> int:
        i = bisect.bisect_right(starts, pos) - 1
        return pos + (shifts[i] if i >= 0 else 0)

    return to_original


def _shift(f: Finding, to_original: Callable[[int], int]) -> Finding:
    end = to_original(f.end - 1) + 1 if f.end > f.start else to_original(f.end)
    return Finding(f.type, to_original(f.start), end, f.scanner, f.score)
