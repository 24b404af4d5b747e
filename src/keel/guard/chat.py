"""Every text of an OpenAI-style answer goes through the output guard, found by the answer's shape.

Which strings are text is `shape.py`'s rule (every string value but structural fields and
binary payloads; keys that are not API field names), so `message.reasoning_content`,
`message.refusal`, `audio.transcript`, tool-call arguments, content parts, every choice, and
whatever field comes next are scanned without being listed. Streamed chunks get one
StreamFilter per (choice, path inside the choice: `delta.content`, `text`,
`delta.tool_calls.0.function.arguments`, ...), so a value split across chunks is still caught;
a choice's held-back text is released with its finish_reason, each into its own path. Strings
of a chunk outside its choices are complete in their event and scanned whole.
"""

from __future__ import annotations

import copy
from typing import Any

from keel.guard import shape
from keel.guard.findings import Finding
from keel.guard.policy import DEFAULT_POLICY, Policy
from keel.guard.scan import quiet, scan
from keel.guard.stream import StreamFilter


class GuardBlocked(Exception):
    """The output guard blocked a response; `code` is the scanner that did."""

    def __init__(self, code: str, findings: list[Finding]):
        self.code = code
        self.findings = findings
        super().__init__(f"response blocked by the {code} guard")


def guard_document(doc: Any, policy: Policy, report: list | None, skip: set | None = None) -> None:
    """Scan every text of `doc` in place with the output policy: string values, then keys that
    are not API field names; raises GuardBlocked. `skip` holds (id(container), key) of values the
    caller scanned already. `report` gets `(field path, ScanResult)` per text with findings or
    errors (a key's path is `keys`)."""
    values, names = shape.walk(doc)
    if skip:
        values = [s for s in values if (id(s[0]), s[1]) not in skip]
    if quiet([c[k] for c, k, _ in values] + [k for _, k in names], "output", policy):
        return  # nothing to find in any of them (one prefilter pass over all)
    for container, key, path in values:
        container[key] = _scan_one(container[key], shape.label(path), policy, report)
    for container, key in names:
        new = _scan_one(key, "keys", policy, report)
        if new != key:
            shape.rename_key(container, key, new)


def scan_text(text: str, policy: Policy, report: list | None, where: str = "") -> str:
    """One text with the output policy, redacted; raises GuardBlocked."""
    return _scan_one(text, where, policy, report)


def _scan_one(text: str, where: str, policy: Policy, report: list | None) -> str:
    result = scan(text, "output", policy)
    if report is not None and (result.findings or result.errors):
        report.append((where, result))
    if result.blocked or result.text is None:
        raise GuardBlocked(result.blocked_by or "guard", result.findings)
    return result.text


def guard_response(
    body: dict[str, Any], policy: Policy = DEFAULT_POLICY, report: list | None = None
) -> dict[str, Any]:
    """A copy of `body` with every returned text redacted; raises GuardBlocked when one blocks.

    With `report`, each text's findings and scanner errors are appended to it as
    `(field path, ScanResult)` (offsets, types, never the text)."""
    out = copy.deepcopy(body)
    guard_document(out, policy, report)
    return out


# Streamed values that arrive whole in one chunk (a tool call's name): scanned whole there, so
# a client gets the name with the call's first chunk instead of at the end of the stream.
WHOLE = frozenset({"name"})
Path = tuple  # a path inside a choice: dict keys, and ("#", n, keyed) for list items


def _stable(choice: Any, path: tuple) -> Path:
    """`path` with each list position replaced by the item's identity across chunks: its
    "index" field when it has one (tool calls), else its position."""
    node, stable = choice, []
    for part in path:
        if isinstance(node, list):
            item = node[part]
            keyed = isinstance(item, dict) and isinstance(item.get("index"), int)
            stable.append(("#", item["index"] if keyed else part, keyed))
        else:
            stable.append(part)
        node = node[part]
    return tuple(stable)


def path_label(path: Path) -> str:
    return ".".join(str(p[1]) if isinstance(p, tuple) else str(p) for p in path)


def put(choice: dict[str, Any], path: Path, text: str) -> None:
    """Append `text` at `path` inside `choice`, creating what is missing. Where the chunk holds
    something of another type at that path (an upstream that changed a field's type between
    chunks), the held text is dropped rather than sent elsewhere."""
    _merge(choice, _build(path, text))


def _build(path: Path, text: str) -> Any:
    if not path:
        return text
    part, child = path[0], _build(path[1:], text)
    if isinstance(part, tuple):
        _, n, keyed = part
        return [{"index": n, **child} if keyed and isinstance(child, dict) else child]
    return {part: child}


def _merge(into: Any, extra: Any) -> None:
    if isinstance(extra, list):
        for item in extra:
            index = item.get("index") if isinstance(item, dict) else None
            same = [
                x
                for x in into
                if index is not None and isinstance(x, dict) and x.get("index") == index
            ]
            if same:
                _merge(same[0], item)
            else:
                into.append(item)
        return
    for key, value in extra.items():
        current = into.get(key)
        if isinstance(value, str):
            if current is None or isinstance(current, str):
                into[key] = (current or "") + value
        elif current is None:
            into[key] = value
        elif isinstance(value, dict | list) and type(current) is type(value):
            _merge(current, value)


class ResponseStreamGuard:
    """Filters streamed chat-completion chunks (already parsed from SSE `data:` lines)."""

    def __init__(self, policy: Policy = DEFAULT_POLICY):
        self.policy = policy
        self._filters: dict[tuple[int, str], StreamFilter] = {}
        self._paths: dict[tuple[int, str], Path] = {}
        # what every finished filter found and which scanners failed, per (choice, field)
        self.findings: list[tuple[tuple[int, str], Finding]] = []
        self.errors: list[tuple[tuple[int, str], str]] = []
        self.report: list = []  # (field path, ScanResult) of texts scanned whole

    def filter(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """A copy of `chunk` with its deltas filtered; raises GuardBlocked when a value blocks."""
        out = copy.deepcopy(chunk)
        choices = out.get("choices")
        streamed: set = set()
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            index = index if isinstance(index, int) else 0
            for container, key, path in list(shape.strings(choice)):
                if key in WHOLE:
                    continue  # arrives whole in one chunk; scanned whole below
                stable = _stable(choice, path)
                label = path_label(stable)
                self._paths[(index, label)] = stable
                container[key] = self._feed((index, label), container[key])
                streamed.add((id(container), key))
            if choice.get("finish_reason") is not None:
                self._close_choice(index, choice)
                # what was released into it is decided; a name in this chunk is still to scan
                streamed.update((id(c), k) for c, k, _ in shape.strings(choice) if k not in WHOLE)
        guard_document(out, self.policy, self.report, skip=streamed)
        return out

    def close(self) -> dict[tuple[int, str], str]:
        """Whatever is still held, per (choice, field), when the stream ends without finish_reason."""
        return {key: self._finish(key) for key in list(self._filters)}

    def rest_choice(self, key: tuple[int, str], text: str) -> dict[str, Any]:
        """The choice that carries `text` (held for `key`) to its own path."""
        choice: dict[str, Any] = {"index": key[0]}
        put(choice, self._paths[key], text)
        return choice

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

    def _close_choice(self, index: int, choice: dict[str, Any]) -> None:
        """Release what is held for this choice into its final chunk, each into its own path."""
        for key in [k for k in self._filters if k[0] == index]:
            rest = self._finish(key)
            if rest:
                put(choice, self._paths[key], rest)
