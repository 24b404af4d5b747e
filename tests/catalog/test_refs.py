"""Entity references: Backstage's `[kind:][namespace/]name` with per-field defaults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.catalog.refs import EntityRef, parse_ref

NAME = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?", fullmatch=True)
NAMESPACE = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
KIND = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True)


@pytest.mark.parametrize(
    ("text", "default_kind", "expected"),
    [
        ("team-a", "group", EntityRef("group", "default", "team-a")),
        ("user:guest", "group", EntityRef("user", "default", "guest")),
        ("default/team-a", "group", EntityRef("group", "default", "team-a")),
        ("group:ops/sre", None, EntityRef("group", "ops", "sre")),
        ("Component:Default/My.Service", None, EntityRef("Component", "Default", "My.Service")),
    ],
)
def test_parse(text, default_kind, expected):
    assert parse_ref(text, default_kind=default_kind) == expected


def test_omitted_namespace_is_the_referring_entitys():
    assert (
        parse_ref("db", default_kind="resource", default_namespace="payments").namespace
        == "payments"
    )


@pytest.mark.parametrize(
    "text", ["", " x", "x ", "kind:", ":name", "ns/", "/name", "a:b/c/d", "a:b:c", 7, None]
)
def test_malformed(text):
    with pytest.raises(ValueError):
        parse_ref(text, default_kind="component")


def test_fields_without_a_default_kind_need_one():
    with pytest.raises(ValueError, match="needs a kind"):
        parse_ref("feature-store", default_kind=None)


@given(KIND, NAMESPACE, NAME)
def test_round_trip_and_case_insensitive_key(kind, namespace, name):
    ref = parse_ref(f"{kind}:{namespace}/{name}")
    assert (ref.kind, ref.namespace, ref.name) == (kind, namespace, name)
    assert parse_ref(str(ref)).key == ref.key
    assert parse_ref(f"{kind.upper()}:{namespace}/{name.upper()}").key == ref.key


@given(st.text(max_size=40), st.sampled_from([None, "component"]))
def test_arbitrary_text_parses_or_raises_value_error(text, default_kind):
    try:
        ref = parse_ref(text, default_kind=default_kind)
    except ValueError:
        return
    assert ref.name and ref.kind and ref.namespace
    assert ":" not in ref.name and "/" not in ref.name
