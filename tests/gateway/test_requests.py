"""The request schema check: good requests pass, a malformed field is a 400 naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway import errors, requests

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("chat", CHAT),
        ("chat", {**CHAT, "stream": True, "max_tokens": 64, "n": 2, "temperature": 0.5}),
        (
            "chat",
            {
                "messages": [
                    {"role": "system", "content": None},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "a"},
                            {"type": "image_url", "image_url": {}},
                        ],
                    },
                    {"role": "tool", "content": "x", "tool_call_id": "t"},
                ],
                "tools": [],
                "custom_field": {"passes": "through"},
            },
        ),
        ("embeddings", {"input": "text"}),
        ("embeddings", {"input": ["a", "b"]}),
        ("embeddings", {"input": [1, 2, 3]}),
        ("embeddings", {"input": [[1, 2], [3]]}),
        ("predict", {"rows": [[1, 2]]}),
    ],
)
def test_well_formed_requests_pass(operation, body):
    requests.check(operation, body)


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("chat", {}, "messages"),
        ("chat", {"messages": []}, "messages"),
        ("chat", {"messages": "hi"}, "messages"),
        ("chat", {"messages": ["hi"]}, "messages[0]"),
        ("chat", {"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ("chat", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            "chat",
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0]",
        ),
        (
            "chat",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
        ),
        ("chat", {**CHAT, "max_tokens": 0}, "max_tokens"),
        ("chat", {**CHAT, "max_tokens": True}, "max_tokens"),
        ("chat", {**CHAT, "n": 1000}, "n"),
        ("chat", {**CHAT, "temperature": 3}, "temperature"),
        ("chat", {**CHAT, "stream": "yes"}, "stream"),
        ("chat", {**CHAT, "model": 7}, "model"),
        ("chat", {**CHAT, "tools": {}}, "tools"),
        ("embeddings", {}, "input"),
        ("embeddings", {"input": []}, "input"),
        ("embeddings", {"input": ["a", 1]}, "input"),
    ],
)
def test_a_malformed_field_is_a_400_naming_it(operation, body, field):
    with pytest.raises(errors.GatewayError) as info:
        requests.check(operation, body)
    assert info.value.status == 400
    assert info.value.message.startswith(f"{field}: ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(["chat", "embeddings", "predict", "models"]),
    st.dictionaries(
        st.sampled_from(
            ["messages", "input", "model", "stream", "n", "max_tokens", "temperature", "tools", "x"]
        ),
        JSON,
    ),
)
def test_any_json_body_passes_or_is_a_400(operation, body):
    try:
        requests.check(operation, body)
    except errors.GatewayError as exc:
        assert exc.status == 400
