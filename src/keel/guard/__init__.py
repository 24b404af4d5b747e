"""Guard: scanners for what goes into a model and what comes out (issue #7).

    scan(text, stage, policy) -> ScanResult          one text, whole
    StreamFilter(stage, policy).feed(chunk) / close() a streamed text, across chunk boundaries
    guard_response(body, policy)                      every text of a chat completion
    ResponseStreamGuard(policy).filter(chunk)         the same for streamed chunks

Scanners: `unicode` (invisible/control characters), `injection` (rules + a shipped linear model),
`pii` (e-mail, phone, card, IBAN, SSN, IP), `secrets` (key formats, PEM, JWT, keyword
assignments, high entropy); `limits` bounds size and tokens first. Engines are linear-time (RE2).
"""

from keel.guard.chat import ResponseStreamGuard, guard_response
from keel.guard.findings import Finding, ScanResult
from keel.guard.policy import DEFAULT_POLICY, STRICT_POLICY, Policy, StagePolicy, parse_policy
from keel.guard.scan import scan
from keel.guard.stream import StreamFilter

__all__ = [
    "DEFAULT_POLICY",
    "STRICT_POLICY",
    "Finding",
    "Policy",
    "ResponseStreamGuard",
    "ScanResult",
    "StagePolicy",
    "StreamFilter",
    "guard_response",
    "parse_policy",
    "scan",
]
