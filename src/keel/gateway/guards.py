"""The guard (keel.guard's scanners) on the gateway's hooks, per route policy.

- `InputGuard`: every text of a request, found by the body's shape (`keel.guard.shape`: every
  string value but structural fields and binary payloads, and keys that are not API field
  names), is scanned with the route's input policy: messages' content and text parts and
  embeddings input one by one as before, and everything else too (`tools[].function.description`,
  `messages[].name`, tool-call arguments in the history, `user`, `metadata`, `response_format`,
  the next field): each on its own for PII, secrets and invisible characters, and all of them
  together as one document for injection (one score, not one per field). Every injection
  score of a request (each main text and the side document) is taken in one pass
  (`scan.scan_all`), and a side document found clean is remembered (`CleanSides`), so the
  same tools and metadata sent with every request are scanned once. A block answers 400
  `guard_violation` (code: the scanner); a redaction rewrites the forwarded body in place.
- `OutputGuard`: complete answers through `guard_response` and SSE streams through
  `ResponseStreamGuard` (hold-back across chunks), both by the same shape rule
  (`reasoning_content`, `refusal`, `audio.transcript`, ...); SSE comment lines and the values
  of `event:`/`id:` lines are scanned as text too.

Findings go to `call.findings` by stage, field, type and position, never with the text. A
scanner that raises fails closed (500 `guard_error`, decision `guard_error`) unless the
route's policy says `fail_closed: false`; then the text passes, the finding
`{"type": "guard_error"}` is recorded and the decision is `unchecked`, never `allowed`.
A route's `guard` False turns all of it off; None is `DEFAULT_POLICY`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from keel.gateway import errors
from keel.gateway.hooks import Call, Hooks
from keel.gateway.routes import Route
from keel.guard import shape
from keel.guard.chat import GuardBlocked, ResponseStreamGuard, guard_response
from keel.guard.chat import scan_text as _scan_text
from keel.guard.findings import ScanResult
from keel.guard.policy import DEFAULT_POLICY, Policy, parse_policy
from keel.guard.scan import GUARD_ERROR, quiet, scan, scan_all, scan_injection

UNCHECKED = "unchecked"


class Policies:
    """The parsed policy of each route, cached by the route object (a snapshot reload makes
    new Route objects, so a changed policy is parsed once, on first use)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Route, Policy | None]] = {}

    def of(self, route: Route | None) -> Policy | None:
        if route is None:
            return None
        found = self._cache.get(id(route))
        if found is not None and found[0] is route:
            return found[1]
        guard = route.guard
        policy = None if guard is False else DEFAULT_POLICY if not guard else parse_policy(guard)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[id(route)] = (route, policy)
        return policy


def _finding(stage: str, where: str, f) -> dict[str, Any]:
    return {
        "stage": stage,
        "field": where,
        "type": f.type,
        "scanner": f.scanner,
        "start": f.start,
        "end": f.end,
    }


def _error_finding(call: Call, stage: str, where: str, error: str) -> None:
    call.findings.append(
        {"stage": stage, "field": where, "type": GUARD_ERROR, "scanner": error.split(":")[0]}
    )
    if call.decision == "allowed":
        call.decision = UNCHECKED


def _texts(call: Call) -> list[tuple[dict | list, Any, str]]:
    """(container, key, label) of the request's main texts: chat messages' string content and
    text parts, embeddings input strings (each also scored for injection on its own)."""
    body = call.body or {}
    slots: list[tuple[dict | list, Any, str]] = []
    if call.operation == "chat":
        for i, message in enumerate(body.get("messages") or ()):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                slots.append((message, "content", f"messages.{i}.content"))
            elif isinstance(content, list):
                for j, part in enumerate(content):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        slots.append((part, "text", f"messages.{i}.content.{j}"))
    elif call.operation == "embeddings":
        given = body.get("input")
        if isinstance(given, str):
            slots.append((body, "input", "input"))
        elif isinstance(given, list):
            for i, item in enumerate(given):
                if isinstance(item, str):
                    slots.append((given, i, f"input.{i}"))
    return slots


def _side_texts(call: Call, main: list) -> list[tuple[dict | list, Any, str]]:
    """Every other text of the body by its shape: values, then keys (labelled `keys`)."""
    body = call.body
    if not isinstance(body, dict) or call.operation not in ("chat", "embeddings"):
        return []  # predict rows are a model's features, not text
    values, names = shape.walk(body)
    taken = {(id(c), k) for c, k, _ in main}
    slots: list[tuple[Any, Any, str]] = [
        (c, k, shape.label(p)) for c, k, p in values if (id(c), k) not in taken
    ]
    slots.extend((c, k, "keys") for c, k in names)
    return slots


class CleanSides:
    """Side documents already found clean under a policy (quiet: no PII, secret, invisible
    character or limit, and no injection finding), so a client that sends the same tools,
    `user` and `metadata` with every request (most do) pays for their scan once. Keyed by the
    document itself (the side texts joined, which is all `quiet` and the injection score
    read) and the policy object; only clean verdicts are kept, so a finding, a block or a
    scanner error is found again on every request. Bounded by the characters it holds."""

    MAX_CHARS = 1 << 20

    def __init__(self) -> None:
        self._seen: dict[tuple[int, str], Policy] = {}
        self._chars = 0

    def seen(self, policy: Policy, document: str) -> bool:
        return self._seen.get((id(policy), document)) is policy

    def add(self, policy: Policy, document: str) -> None:
        if self._chars + len(document) > self.MAX_CHARS:
            self._seen.clear()
            self._chars = 0
        if len(document) <= self.MAX_CHARS // 16:
            self._seen[(id(policy), document)] = policy
            self._chars += len(document)


class InputGuard:
    def __init__(self, policies: Policies):
        self.policies = policies
        self.clean = CleanSides()

    async def __call__(self, call: Call) -> None:
        policy = self.policies.of(call.route)
        if policy is None:
            return
        main = _texts(call)
        side = _side_texts(call, main)
        # as given: an instruction is no less one for a redacted e-mail address in it
        side_texts = [(k if w == "keys" else c[k], w) for c, k, w in side]
        document = "\n".join(t for t, _ in side_texts) if side_texts else None
        known = document is not None and self.clean.seen(policy, document)
        # every injection score of the request (each main text, the side document) in one pass
        results, scored = scan_all(
            [c[k] for c, k, _ in main], "input", policy, document=None if known else document
        )
        if known or (side_texts and quiet([t for t, _ in side_texts], "input", policy)):
            side = []  # no PII, secret or invisible character in any of them: one check
        changed = False
        for i, (container, key, where) in enumerate(main + side):
            is_key = where == "keys"
            text = key if is_key else container[key]
            result = results[i] if i < len(main) else scan(text, "input", policy, injection=False)
            self._check(call, result, where)
            if result.text is not None and result.text != text:
                if is_key:
                    shape.rename_key(container, key, result.text)
                else:
                    container[key] = result.text
                changed = True
        if scored is not None:
            self._injection(call, policy, side_texts, scored)
            if not side and not scored.findings and not scored.errors and document is not None:
                self.clean.add(policy, document)
        if changed:
            call.raw = None  # re-encode the rewritten body

    def _check(self, call: Call, result, where: str) -> None:
        for f in result.findings:
            call.findings.append(_finding("input", where, f))
        if result.blocked:
            if result.blocked_by == GUARD_ERROR:
                for e in result.errors:
                    _error_finding(call, "input", where, e)
                raise errors.guard_failed("input")
            raise errors.guard_violation(
                result.blocked_by or "guard",
                f"the request was blocked by the {result.blocked_by} guard ({where})",
            )
        for e in result.errors:
            _error_finding(call, "input", where, e)

    def _injection(
        self, call: Call, policy: Policy, texts: list[tuple[str, str]], result: ScanResult
    ) -> None:
        """The side texts' verdict as one document; a block names the first field that scores
        on its own, or `request` when only the document as a whole reads as an injection."""
        where = "request"
        if result.blocked and result.blocked_by != GUARD_ERROR:
            hit = next(((t, w) for t, w in texts if scan_injection(t, policy).blocked), None)
            if hit is not None:
                where = hit[1]
                result.findings = [dataclasses.replace(f, end=len(hit[0])) for f in result.findings]
        self._check(call, result, where)


class OutputGuard:
    def __init__(self, policies: Policies):
        self.policies = policies

    async def response(self, call: Call, body: bytes) -> bytes:
        policy = self.policies.of(call.route)
        if policy is None or call.operation != "chat":
            return body
        parsed = orjson.loads(body)
        report: list = []
        try:
            out = guard_response(parsed, policy, report)
        except GuardBlocked as blocked:
            _report(call, report)
            if blocked.code == GUARD_ERROR:
                raise errors.guard_failed("output") from None
            raise errors.guard_violation(
                blocked.code, f"the answer was blocked by the {blocked.code} guard"
            ) from None
        _report(call, report)
        if not report:
            return body
        return orjson.dumps(out)

    def stream(self, call: Call) -> SSEGuard | None:
        policy = self.policies.of(call.route)
        if policy is None or call.operation != "chat":
            return None
        return SSEGuard(call, policy)


def _report(call: Call, report: list) -> None:
    for where, result in report:
        for f in result.findings:
            call.findings.append(_finding("output", where, f))
        for e in result.errors:
            _error_finding(call, "output", where, e)


class SSEGuard:
    """A stream filter over SSE bytes: whole events are parsed, their deltas filtered by a
    `ResponseStreamGuard`, and re-encoded. After a block an error event ends the stream."""

    def __init__(self, call: Call, policy: Policy):
        self.call = call
        self.guard = ResponseStreamGuard(policy)
        self.buffer = b""
        self.stopped = False

    def feed(self, chunk: bytes) -> bytes:
        if self.stopped:
            return b""
        self.buffer += chunk
        out: list[bytes] = []
        while True:
            at, size = _boundary(self.buffer)
            if at < 0:
                break
            event, self.buffer = self.buffer[:at], self.buffer[at + size :]
            out.append(self._event(event))
            if self.stopped:
                break
        return b"".join(out)

    def end(self) -> bytes:
        if self.stopped:
            return b""
        out = self._event(self.buffer) if self.buffer.strip() else b""
        self.buffer = b""
        if not self.stopped:
            out += self._rest()
        self._record()
        return out

    def _event(self, event: bytes) -> bytes:
        lines = event.splitlines()
        data = [line[5:].strip() for line in lines if line.startswith(b"data:")]
        if not data:  # comments, keep-alives, event/id/retry lines: their text is text too
            return self._fields(lines)
        payload = b"\n".join(data)
        if payload == b"[DONE]":
            return self._rest() + b"data: [DONE]\n\n"
        try:
            chunk = orjson.loads(payload)
            if not isinstance(chunk, dict):
                raise ValueError
            filtered = self.guard.filter(chunk)
        except GuardBlocked as blocked:
            return self._stop(blocked.code)
        except ValueError:  # an event the guard cannot read is not passed unread
            self.call.findings.append({"stage": "output", "type": "unreadable_event"})
            return b""
        return b"data: " + orjson.dumps(filtered) + b"\n\n"

    def _fields(self, lines: list[bytes]) -> bytes:
        """An event without data: each line's text (a comment, a field's value) scanned whole."""
        out = []
        for line in lines:
            name, sep, value = line.partition(b":")
            text = value.decode("utf-8", "replace")
            body = text.lstrip(" ")
            report: list = []
            where = "sse." + (name.decode("utf-8", "replace") or "comment")
            try:
                clean = _scan_text(body, self.guard.policy, report)
            except GuardBlocked as blocked:
                return self._stop(blocked.code)
            finally:
                _report(self.call, [(where, result) for _, result in report])
            kept = name + sep + (text[: len(text) - len(body)] + clean).encode() if sep else name
            out.append(kept)
        return b"\n".join(out) + b"\n\n"

    def _rest(self) -> bytes:
        """What is still held when the stream ends without a finish_reason."""
        try:
            rest = self.guard.close()
        except GuardBlocked as blocked:
            return self._stop(blocked.code)
        out = b""
        for key, text in rest.items():
            if text:
                chunk = {"choices": [self.guard.rest_choice(key, text)]}
                out += b"data: " + orjson.dumps(chunk) + b"\n\n"
        return out

    def _stop(self, code: str) -> bytes:
        self.stopped = True
        self._record()
        if code == GUARD_ERROR:
            err = errors.guard_failed("output")
        else:
            err = errors.guard_violation(code, f"the answer was blocked by the {code} guard")
        self.call.decision = err.decision
        return b"data: " + err.body() + b"\n\n"

    def _record(self) -> None:
        _report(self.call, self.guard.report)
        self.guard.report.clear()
        for (index, label), f in self.guard.findings:
            self.call.findings.append(_finding("output", f"choices.{index}.{label}", f))
        for (index, label), e in self.guard.errors:
            _error_finding(self.call, "output", f"choices.{index}.{label}", e)
        self.guard.findings.clear()
        self.guard.errors.clear()


def _boundary(buffer: bytes) -> tuple[int, int]:
    """Where the first SSE event ends (`\\n\\n` or `\\r\\n\\r\\n`) and the separator's size."""
    lf = buffer.find(b"\n\n")
    crlf = buffer.find(b"\r\n\r\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return lf, 2


def guard_hooks() -> Hooks:
    """The gateway's hooks with the guard on every route whose policy is not off."""
    policies = Policies()
    return Hooks(input=[InputGuard(policies)], output=[OutputGuard(policies)])
