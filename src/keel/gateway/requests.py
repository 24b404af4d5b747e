"""The shape of a request, checked before any limit, guard or upstream sees it.

OpenAI's request schema for the fields the gateway reads or the guards scan: a malformed
request gets a 400 `invalid_request_error` naming the field, instead of reaching an upstream
that may answer it with a 500 or, worse, answer it. Hand-written checks rather than a
validation library: this runs on every request, within the gateway's latency budget.
Fields the gateway does not read pass through to the upstream untouched.
"""

from __future__ import annotations

from typing import Any

from keel.gateway import errors

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_MESSAGES = 10_000
MAX_INPUTS = 2_048
MAX_TOKENS = 10_000_000


def check(operation: str, body: dict[str, Any]) -> None:
    """Raise a 400 GatewayError naming the first malformed field."""
    if operation == "chat":
        _chat(body)
    elif operation == "embeddings":
        _embeddings(body)
    _optional(body, "model", str)
    _optional(body, "stream", bool)
    _optional(body, "user", str)


def _invalid(field: str, what: str) -> errors.GatewayError:
    return errors.invalid(f"{field}: {what}", "invalid_request_field")


def _optional(body: dict[str, Any], field: str, kind: type[str] | type[bool]) -> None:
    value = body.get(field)
    if value is not None and not isinstance(value, kind):
        raise _invalid(field, "must be true or false" if kind is bool else "must be a string")


def _count(body: dict[str, Any], field: str, low: int, high: int) -> None:
    value = body.get(field)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(field, f"must be an integer from {low} to {high:,}")


def _chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise _invalid("messages", f"at most {MAX_MESSAGES:,}")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid(where, "must be an object")
        if message.get("role") not in ROLES:
            raise _invalid(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _invalid(f"{where}.content", "must be a string or a list of parts")
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _invalid(f"{where}.content[{j}]", "must be an object with a type")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise _invalid(f"{where}.content[{j}].text", "must be a string")
    _count(body, "max_tokens", 1, MAX_TOKENS)
    _count(body, "max_completion_tokens", 1, MAX_TOKENS)
    _count(body, "n", 1, 128)
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise _invalid("temperature", "must be a number from 0 to 2")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _invalid("tools", "must be a list")


def _embeddings(body: dict[str, Any]) -> None:
    data = body.get("input")
    if isinstance(data, str):
        return
    if not isinstance(data, list) or not data:
        raise _invalid("input", "must be a string or a non-empty list")
    if len(data) > MAX_INPUTS:
        raise _invalid("input", f"at most {MAX_INPUTS:,} items")
    if all(isinstance(x, str) for x in data):
        return
    tokens = all(isinstance(x, int) and not isinstance(x, bool) for x in data)
    nested = all(
        isinstance(x, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in x)
        for x in data
    )
    if not (tokens or nested):
        raise _invalid("input", "must be strings, or token ids, not a mixture")
