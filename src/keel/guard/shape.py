"""Which strings of a JSON request or answer are text: a rule over the document's shape.

Every string value anywhere in the document is text, except

- the value of a structural key (`NON_TEXT`: ids, model, role, type, finish_reason, object, ...),
  whose values the API fixes, not the writer of the prompt or the model;
- a binary payload: a `data:` URL, or a base64-shaped value (>= 64 characters of the base64
  alphabet, no space) under a `BINARY` key (audio `data`, `b64_json`, `file_data`), which no
  text scanner can read and which a redaction would corrupt.

Dict keys are text too, unless they are field names of the OpenAI-style APIs (`KNOWN_KEYS`):
a `metadata` key or a JSON-schema property name is written by the caller. So a field added to
the API tomorrow (`reasoning_content`, `refusal`, `audio.transcript` were such fields) is
scanned without anyone listing it. The walk is iterative (no recursion limit on deep JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

NON_TEXT = frozenset(
    {
        "id", "object", "created", "model", "system_fingerprint", "finish_reason", "role",
        "type", "index", "service_tier", "tool_call_id", "encoding_format", "expires_at",
    }
)  # fmt: skip
BINARY = frozenset({"data", "b64_json", "file_data", "embedding"})
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
# Field names of the chat, completions and embeddings APIs, requests and answers: not text.
KNOWN_KEYS = NON_TEXT | BINARY | frozenset(
    {
        "messages", "content", "name", "tool_calls", "function", "arguments", "function_call",
        "tools", "tool_choice", "parameters", "description", "strict", "properties", "required",
        "additionalProperties", "items", "enum", "title", "default", "text", "image_url", "url",
        "detail", "input_audio", "format", "file", "file_id", "filename", "refusal", "audio",
        "transcript", "voice", "modalities", "reasoning_content", "reasoning", "reasoning_effort",
        "choices", "message", "delta", "logprobs", "top_logprobs", "token", "bytes", "logprob",
        "usage", "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
        "completion_tokens_details", "cached_tokens", "reasoning_tokens", "audio_tokens",
        "accepted_prediction_tokens", "rejected_prediction_tokens", "stream", "stream_options",
        "include_usage", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens",
        "stop", "presence_penalty", "frequency_penalty", "logit_bias", "seed", "user",
        "metadata", "store", "response_format", "json_schema", "schema", "parallel_tool_calls",
        "prediction", "input", "dimensions", "prompt", "suffix", "echo", "best_of",
        "annotations", "web_search_options", "error", "code", "param", "status",
    }
)  # fmt: skip

Slot = tuple[Any, Any, tuple]  # (container, key or list position, path from the root)


def binary(key: Any, value: str) -> bool:
    """A value no text scanner can read: a data: URL, or base64 under a binary key."""
    if value.startswith("data:") and ";base64," in value[:100]:
        return True
    return key in BINARY and len(value) >= 64 and _B64.issuperset(value)


def walk(document: Any, path: tuple = ()) -> tuple[list[Slot], list[tuple[dict, str]]]:
    """In one pass: (container, key, path) of every text value, and (dict, key) of every key
    that is not a known API field name; depth first, iterative (no recursion limit)."""
    values: list[Slot] = []
    names: list[tuple[dict, str]] = []
    stack: list[tuple[Any, tuple]] = [(document, path)]
    while stack:
        node, at = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                if type(key) is str and key not in KNOWN_KEYS:
                    names.append((node, key))
                kind = type(value)
                if kind is str:
                    if key in NON_TEXT or (
                        (key in BINARY or value[:5] == "data:") and binary(key, value)
                    ):
                        continue
                    values.append((node, key, (*at, key)))
                elif kind is dict or kind is list:
                    stack.append((value, (*at, key)))
        elif type(node) is list:
            for i, value in enumerate(node):
                kind = type(value)
                if kind is str:
                    if value[:5] != "data:" or not binary(i, value):
                        values.append((node, i, (*at, i)))
                elif kind is dict or kind is list:
                    stack.append((value, (*at, i)))
    return values, names


def strings(document: Any, path: tuple = ()) -> Iterator[Slot]:
    """(container, key, path) of every text value in `document`."""
    return iter(walk(document, path)[0])


def keys(document: Any) -> Iterator[tuple[dict, str]]:
    """(dict, key) of every key in `document` that is not a known API field name."""
    return iter(walk(document)[1])


def label(path: tuple) -> str:
    return ".".join(map(str, path))


def rename_key(container: dict, old: str, new: str) -> None:
    """Replace a key in place, keeping the order of the others."""
    items = [(new if k == old else k, v) for k, v in container.items()]
    container.clear()
    container.update(items)
