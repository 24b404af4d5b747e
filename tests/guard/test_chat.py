"""Every returned text of a chat completion is guarded: choices, content parts, tool calls, streams."""

from __future__ import annotations

import pytest

from keel.guard import ResponseStreamGuard, guard_response, parse_policy
from keel.guard.chat import GuardBlocked

EMAIL = "jane@example.org"
KEY = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"


def body() -> dict:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"mail {EMAIL}"}},
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": f"key {KEY}"}, {"type": "image_url"}],
                    "tool_calls": [
                        {
                            "index": 0,
                            "function": {"name": "send", "arguments": f'{{"to": "{EMAIL}"}}'},
                        }
                    ],
                },
            },
        ]
    }


def test_all_choices_parts_and_tool_arguments_are_redacted():
    out = guard_response(body())
    flat = str(out)
    assert EMAIL not in flat and KEY not in flat
    assert out["choices"][1]["message"]["content"][1] == {"type": "image_url"}
    assert (
        "[REDACTED:EMAIL_ADDRESS]"
        in out["choices"][1]["message"]["tool_calls"][0]["function"]["arguments"]
    )


def test_blocking_policy_raises_with_the_scanner_code():
    with pytest.raises(GuardBlocked) as exc:
        guard_response(body(), parse_policy({"output": {"secrets": "block"}}))
    assert exc.value.code == "secrets"


def _chunks(text: str, size: int, field: str) -> list[dict]:
    out = []
    for i in range(0, len(text), size):
        part = text[i : i + size]
        if field == "content":
            delta = {"content": part}
        else:
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
        out.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return out


@pytest.mark.parametrize("field", ["content", "tool_calls"])
@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_streamed_deltas_are_filtered_across_chunks(field, size):
    text = f'{{"note": "write to {EMAIL} with {KEY}"}}'
    guard = ResponseStreamGuard()
    released = []
    for chunk in _chunks(text, size, field):
        delta = guard.filter(chunk)["choices"][0]["delta"]
        if field == "content":
            released.append(delta.get("content") or "")
        else:
            released.extend(c["function"]["arguments"] for c in delta.get("tool_calls", []))
    joined = "".join(released)
    assert EMAIL not in joined and KEY not in joined
    assert "[REDACTED:EMAIL_ADDRESS]" in joined and "[REDACTED:GITHUB_TOKEN]" in joined


def test_stream_per_choice():
    guard = ResponseStreamGuard()
    out = []
    for part in ["jane@exa", "mple.org ok"]:
        chunk = {"choices": [{"index": i, "delta": {"content": part}} for i in (0, 1)]}
        out.append(guard.filter(chunk))
    rest = guard.close()
    assert set(rest) == {(0, "delta.content"), (1, "delta.content")}
    assert all(EMAIL not in v for v in rest.values())
