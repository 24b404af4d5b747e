"""Every text of an OpenAI-style chat completion goes through the output guard.

Covered: every choice (n > 1); `message.content` as a string or as content parts (`{"type":
"text", "text": ...}`); `tool_calls[].function.arguments`, the legacy `function_call.arguments`,
and `text` of completions. Streamed chunks get one StreamFilter per (choice, field), so a value
split across deltas is still caught; a choice's held-back text is released with its finish_reason.
"""

from __future__ import annotations

import copy
from typing import Any

from keel.guard.findings import Finding
from keel.guard.policy import DEFAULT_POLICY, Policy
from keel.guard.scan import scan
from keel.guard.stream import StreamFilter


class GuardBlocked(Exception):
    """The output guard blocked a response; `code` is the scanner that did."""

    def __init__(self, code: str, findings: list[Finding]):
        self.code = code
        self.findings = findings
        super().__init__(f"response blocked by the {code} guard")


def _slots(choice: dict[str, Any], message_key: str) -> list[tuple[dict[str, Any], str, str]]:
    """(container, key, label) of every text in one choice."""
    slots: list[tuple[dict[str, Any], str, str]] = []
    if isinstance(choice.get("text"), str):
        slots.append((choice, "text", "text"))
    message = choice.get(message_key)
    if not isinstance(message, dict):
        return slots
    content = message.get("content")
    if isinstance(content, str):
        slots.append((message, "content", "content"))
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                slots.append((part, "text", f"content.{i}"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            slots.append((function, "arguments", f"tool_calls.{call.get('index', 0)}"))
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        slots.append((legacy, "arguments", "function_call"))
    return slots


def guard_response(
    body: dict[str, Any], policy: Policy = DEFAULT_POLICY, report: list | None = None
) -> dict[str, Any]:
    """A copy of `body` with every returned text redacted; raises GuardBlocked when one blocks.

    With `report`, each text's findings and scanner errors are appended to it as
    `(choice index, field label, ScanResult)` (offsets, types, never the text)."""
    out = copy.deepcopy(body)
    for choice in out.get("choices") or []:
        for container, key, label in _slots(choice, "message"):
            result = scan(container[key], "output", policy)
            if report is not None and (result.findings or result.errors):
                report.append((choice.get("index", 0), label, result))
            if result.blocked:
                raise GuardBlocked(result.blocked_by or "guard", result.findings)
            container[key] = result.text
    return out


class ResponseStreamGuard:
    """Filters streamed chat-completion chunks (already parsed from SSE `data:` lines)."""

    def __init__(self, policy: Policy = DEFAULT_POLICY):
        self.policy = policy
        self._filters: dict[tuple[int, str], StreamFilter] = {}
        # what every finished filter found and which scanners failed, per (choice, field)
        self.findings: list[tuple[tuple[int, str], Finding]] = []
        self.errors: list[tuple[tuple[int, str], str]] = []

    def filter(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """A copy of `chunk` with its deltas filtered; raises GuardBlocked when a value blocks."""
        out = copy.deepcopy(chunk)
        for choice in out.get("choices") or []:
            index = int(choice.get("index", 0))
            for container, key, label in _slots(choice, "delta"):
                container[key] = self._feed((index, label), container[key])
            if choice.get("finish_reason") is not None:
                self._close_choice(index, choice.setdefault("delta", {}))
        return out

    def close(self) -> dict[tuple[int, str], str]:
        """Whatever is still held, per (choice, field), when the stream ends without finish_reason."""
        return {key: self._finish(key) for key in list(self._filters)}

    def _feed(self, key: tuple[int, str], text: str) -> str:
        flt = self._filters.setdefault(key, StreamFilter("output", self.policy))
        released = flt.feed(text)
        if flt.blocked:
            self._filters.pop(key, None)
            self.findings.extend((key, f) for f in flt.findings)
            self.errors.extend((key, e) for e in flt.errors)
            raise GuardBlocked(flt.blocked_by or "guard", flt.findings)
        return released

    def _finish(self, key: tuple[int, str]) -> str:
        flt = self._filters.pop(key)
        rest = flt.close()
        self.findings.extend((key, f) for f in flt.findings)
        self.errors.extend((key, e) for e in flt.errors)
        if flt.blocked:
            raise GuardBlocked(flt.blocked_by or "guard", flt.findings)
        return rest

    def _close_choice(self, index: int, delta: dict[str, Any]) -> None:
        """Release what is held for this choice into its final delta, each into its own field."""
        for key in [k for k in self._filters if k[0] == index]:
            rest = self._finish(key)
            if not rest:
                continue
            label = key[1]
            if label.startswith("tool_calls."):
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": int(label.split(".")[1]), "function": {"arguments": rest}})
            elif label == "function_call":
                call = delta.setdefault("function_call", {})
                call["arguments"] = call.get("arguments", "") + rest
            elif label == "text":
                delta["text"] = (delta.get("text") or "") + rest
            else:
                delta["content"] = (delta.get("content") or "") + rest
