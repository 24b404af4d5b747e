"""The event types: one list, checked against docs/events.md; names and patterns parsed
(property tests); URLs and references checked (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.errors import InputError, UsageError
from keel.notifications import catalog, targets
from tests.audit.test_actions import documented
from tests.conftest import REPO


def test_every_event_type_is_documented_or_says_what_will_write_it():
    listed = documented()
    for t in catalog.TYPES:
        assert (t.action in listed) or t.written_from, t.action
        assert t.written_from is None or t.action not in listed, (
            f"{t.action} is in docs/events.md now: clear its written_from in the catalog"
        )
    for action in listed:
        if action.startswith("notifications."):
            assert action in (REPO / "docs" / "notifications.md").read_text()


def test_aliases_and_patterns_resolve_to_known_actions():
    assert catalog.resolve("incident") == "incidents.incident.*,incidents.action.*"
    assert catalog.resolve("key-expiring") == "gateway.key.expiring,auth.token.expiring"
    assert catalog.resolve(" promotion-refused ") == "pipeline.promotion.refused"
    assert catalog.resolve("incidents.incident.*") == "incidents.incident.*"
    assert catalog.matches("incidents.incident.*", "incidents.incident.resolved")
    assert not catalog.matches("incidents.incident.*", "incidents.incidents.opened")
    # a `*` stands for the known actions: a refusal changes nothing and is not told
    assert not catalog.matches("incidents.incident.*", "incidents.incident.refused")
    assert catalog.matches(catalog.resolve("incident"), "incidents.action.done")
    assert catalog.matches("gateway.key.expiring,auth.token.expiring", "auth.token.expiring")
    assert not catalog.matches("auth.token.*", "auth.token.*")  # a pattern is no event's action
    for pattern in catalog.known():
        stored = catalog.resolve(pattern)
        assert all(catalog.expand(p) for p in stored.split(","))


def test_the_refusal_lists_what_is_known_in_one_line():
    with pytest.raises(InputError) as caught:
        catalog.resolve("approval")
    (line,) = caught.value.problems
    assert "approval-requested" in line and "pipeline.promotion.refused" in line
    assert "incidents.incident.*" in line and "\n" not in line


@given(st.text(max_size=60))
def test_resolve_accepts_only_what_matches_a_known_action(name):
    try:
        stored = catalog.resolve(name)
    except InputError as exc:
        assert len(exc.problems) == 1
        return
    actions = [a for a in catalog.ACTIONS if catalog.matches(stored, a)]
    assert actions, (name, stored)
    assert set(actions) == {a for p in stored.split(",") for a in catalog.expand(p)}


@given(st.sampled_from(sorted(catalog.ACTIONS)), st.text(max_size=20))
def test_a_pattern_matches_its_known_actions_only(action, tail):
    prefix = action.rsplit(".", 1)[0]
    assert catalog.matches(prefix + ".*", action)
    other = prefix + "." + tail
    assert catalog.matches(prefix + ".*", other) == (other in catalog.ACTIONS)
    assert not catalog.matches(prefix + ".*", prefix + tail) or (prefix + tail) in catalog.ACTIONS


@given(st.text(max_size=80))
def test_a_webhook_url_is_refused_with_one_line_or_is_http(url):
    own = targets.control_plane()
    try:
        checked = targets.check_webhook(url, own)
    except InputError as exc:
        assert len(exc.problems) == 1 and "\n" not in exc.problems[0]
        return
    where = targets.origin(checked)
    assert where is not None and where not in own
    assert checked.split(":", 1)[0] in ("http", "https")


@given(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.1.2.3", "0.0.0.0", "LOCALHOST."]),
)
def test_every_spelling_of_the_local_control_plane_is_refused(scheme, host):
    with pytest.raises(InputError, match="the control plane itself"):
        targets.check_webhook(f"{scheme}://{host}:8400/api/v1/tokens", targets.control_plane())


@given(st.text(max_size=40))
def test_a_secret_is_a_reference_or_refused(text):
    try:
        ref = targets.check_ref(text, "the signing secret")
    except InputError as exc:
        assert len(exc.problems) == 1
        return
    assert ref.startswith(("env:", "file:/"))


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+/=", min_size=12
    )
)
def test_a_refused_literal_is_never_echoed(secret):
    for literal in (secret, "whsec_" + secret):
        with pytest.raises(InputError) as caught:
            targets.check_ref(literal, "the signing secret")
        assert secret not in str(caught.value)


def test_references_resolve_at_delivery_time(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_TEST_SECRET", "whsec_abc")
    assert targets.resolve_ref("env:KEEL_TEST_SECRET", "s") == "whsec_abc"
    path = tmp_path / "secret"
    path.write_text("whsec_def\n")
    assert targets.resolve_ref(f"file:{path}", "s") == "whsec_def"
    with pytest.raises(UsageError, match="cannot read it"):
        targets.resolve_ref(f"file:{tmp_path / 'missing'}", "s")
    with pytest.raises(UsageError, match="is not set"):
        targets.resolve_ref("env:KEEL_TEST_NOT_SET", "s")
