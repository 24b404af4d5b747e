"""The gate's pieces: every API route declares a role, bodies are cut exactly at their cap
however they are chunked, and only a well-formed bearer header yields a token."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException

from keel.api import create_app
from keel.api.gate import API, READS, Gate, _bearer, _capped, _needed


def _gate_roles():
    app = create_app(ws=object())  # never opened: only the routes are read
    (gate,) = [m for m in app.user_middleware if m.cls is Gate]
    return app, gate.kwargs["roles"]


def test_every_api_route_declares_its_role():
    app, roles = _gate_roles()
    spec = app.openapi()
    for path, methods in spec["paths"].items():
        concrete = path.replace("{release}", "m@1").replace("{", "").replace("}", "")
        for method in methods:
            role = _needed(roles, method.upper(), concrete)
            assert role is not None, (method, path)
            if method not in ("get", "head") and (method.upper(), path) not in READS:
                assert role in ("editor", "admin"), (method, path, role)
    assert _needed(roles, "POST", f"{API}/tokens") == "admin"
    assert _needed(roles, "POST", f"{API}/releases/credit-scorer@1/approvals") == "editor"


@given(
    chunks=st.lists(st.binary(max_size=64), max_size=12),
    cap=st.integers(min_value=0, max_value=400),
)
def test_a_body_is_cut_exactly_past_its_cap(chunks, cap):
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    feed = iter(messages)

    async def receive():
        return next(feed)

    async def drain() -> int:
        wrapped = _capped(receive, cap)
        total = 0
        while True:
            message = await wrapped()
            total += len(message["body"])
            if not message["more_body"]:
                return total

    total = sum(map(len, chunks))
    if total > cap:
        with pytest.raises(HTTPException) as refused:
            asyncio.run(drain())
        assert refused.value.status_code == 413
    else:
        assert asyncio.run(drain()) == total


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer keel_pat_x", "keel_pat_x"),
        ("bearer  keel_pat_x ", "keel_pat_x"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_bearer_header_carries_a_token(header, token):
    assert _bearer(header) == token


def test_every_json_body_refuses_unknown_fields():
    """Each JSON request body of the OpenAPI document is closed (`keel.api.bodies.Body`)."""
    spec = create_app(ws=object()).openapi()
    schemas = spec["components"]["schemas"]
    bodies = 0
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            for ref in [schema.get("$ref"), *(s.get("$ref") for s in schema.get("anyOf", []))]:
                if ref:
                    body = schemas[ref.rsplit("/", 1)[1]]
                    assert body.get("additionalProperties") is False, (method, path)
                    bodies += 1
    assert bodies >= 10
