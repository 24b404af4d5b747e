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

from keel.guard import injection as _injection
from keel.guard import limits, pii, prefilter, secrets, unicode, width
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
        out.append(("injection", lambda t: _injection.scan(t, rules.injection_threshold)))
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
    prepared = _prepare(text, rules)
    if isinstance(prepared, ScanResult):
        return prepared
    invisible, clean, errors = prepared
    found: list[Finding] = []
    if stage == "input" and injection:
        found = _run(
            "injection", lambda t: _injection.scan(t, rules.injection_threshold), clean, errors
        )
    return _finish(text, stage, rules, invisible, clean, errors, found)


def scan_all(
    texts: list[str],
    stage: Stage = "input",
    policy: Policy = DEFAULT_POLICY,
    *,
    document: str | None = None,
) -> tuple[list[ScanResult], ScanResult | None]:
    """`[scan(t, stage, policy) for t in texts]` and, given a `document`,
    `scan_injection(document, policy)`, with every injection score of them taken in one pass
    (`injection.scan_many`): what a request costs the model is one pass, not one per text."""
    rules = policy.stage(stage)
    prepared = [_prepare(t, rules) for t in texts]
    todo = [i for i, p in enumerate(prepared) if not isinstance(p, ScanResult)]
    scored = [prepared[i][1] for i in todo] if stage == "input" else []  # type: ignore[index]
    if document is not None:
        scored.append(unicode.strip(document))
    found: list[list[Finding]] = [[] for _ in scored]
    failed = ""
    if scored:
        try:
            found = _injection.scan_many(scored, rules.injection_threshold)
        except Exception as exc:  # as `_run`: the policy decides
            failed = f"injection: {type(exc).__name__}"
    results: list[ScanResult] = []
    for i, (text, p) in enumerate(zip(texts, prepared, strict=True)):
        if isinstance(p, ScanResult):
            results.append(p)
            continue
        invisible, clean, errors = p
        hits = found[todo.index(i)] if stage == "input" else []
        if failed and stage == "input":
            errors.append(failed)
        results.append(_finish(text, stage, rules, invisible, clean, errors, hits))
    doc = None
    if document is not None:
        doc = _injection_result(document, found[-1], [failed] if failed else [], rules)
    return results, doc


def _prepare(text: str, rules: StagePolicy) -> ScanResult | tuple[list[Finding], str, list[str]]:
    """Limits (a ScanResult when over them), then invisible characters: (found, the text
    stripped of them when the policy redacts them, errors so far)."""
    over = limits.check(text, rules.max_chars, rules.max_tokens)
    if over:
        return ScanResult(blocked=True, findings=over, blocked_by=limits.SCANNER)
    errors: list[str] = []
    invisible = _run("unicode", unicode.scan, text, errors)
    clean = text
    if invisible and rules.unicode == "redact":
        clean = unicode.strip(text)
    return invisible, clean, errors


def _finish(
    text: str,
    stage: Stage,
    rules: StagePolicy,
    invisible: list[Finding],
    clean: str,
    errors: list[str],
    found: list[Finding],
) -> ScanResult:
    """The verdict once the injection scanner's `found` are known: PII and secrets, then what
    blocks and what is redacted."""
    to_original = _offset_map(invisible) if clean is not text else None
    found = list(found)
    for name, fn in scanners(stage, rules, injection_scan=False):
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
        lambda t: _injection.scan(t, rules.injection_threshold),
        unicode.strip(text),
        errors,
    )
    return _injection_result(text, found, errors, rules)


def _injection_result(
    text: str, found: list[Finding], errors: list[str], rules: StagePolicy
) -> ScanResult:
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
