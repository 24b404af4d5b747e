"""Token counts for `tpm` limits, offline and approximate: one token per four characters.

No tokenizer is downloaded at run time (tiktoken fetches its BPE files; none ships in a
package Keel depends on). OpenAI's rule of thumb, ~4 characters of English per token, is
what this counts, plus the chat format's fixed overhead per message (4) and per reply (3).
Its error against a real BPE count is measured in docs/gateway.md; what makes it safe is
that a reservation is settled with the upstream's own `usage` once the answer arrives.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4
PER_REPLY = 3
DEFAULT_COMPLETION = 256  # reserved for a chat request that names no max_tokens


def count_text(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return sum(
            count_text(part.get("text", "")) if isinstance(part, dict) else 0 for part in content
        )
    return 0


def chat_prompt(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    total = PER_REPLY
    for message in messages:
        if isinstance(message, dict):
            total += PER_MESSAGE + _content_tokens(message.get("content"))
    return total


def embeddings_input(body: dict[str, Any]) -> int:
    given = body.get("input")
    if isinstance(given, str):
        return count_text(given)
    if isinstance(given, list):
        if given and all(isinstance(x, int) for x in given):  # one input, already tokens
            return len(given)
        return sum(
            count_text(x) if isinstance(x, str) else len(x) if isinstance(x, list) else 0
            for x in given
        )
    return 0


def reservation(operation: str, body: dict[str, Any]) -> int:
    """Tokens to reserve before forwarding: the prompt plus the most the answer may use."""
    if operation == "chat":
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            limit = DEFAULT_COMPLETION
        return chat_prompt(body) + limit
    if operation == "embeddings":
        return embeddings_input(body)
    return 0
