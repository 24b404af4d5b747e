"""Events: canonical bytes, one op per operation, same transaction as the change, one writer."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel import audit
from keel.audit.canonical import canonical_bytes
from keel.identity import user_actor
from keel.store import transaction

SRC = Path(__file__).resolve().parents[2] / "src" / "keel"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_bytes_are_compact_sorted_utf8_json(value):
    data = canonical_bytes(value)
    assert json.loads(data.decode("utf-8")) == value
    # re-encoding the parsed value gives the same bytes: the form is a fixed point
    assert canonical_bytes(json.loads(data)) == data
    if isinstance(value, dict):
        assert list(json.loads(data)) == sorted(value)


def test_canonical_bytes_reject_nan():
    with pytest.raises(ValueError):
        canonical_bytes({"x": float("nan")})


def test_append_writes_the_stored_bytes_with_contiguous_seq(ws, admin):
    changes = [audit.Change("test.thing", f"thing:{i}", {"i": i}) for i in range(3)]
    with ws.write(admin) as session:
        written = audit.append(session, admin, changes)
    with ws.read() as session:
        stored = audit.list_events(session)
    assert [e.seq for e in stored] == [1, 2, 3, 4]  # after workspace.created
    assert [e.body for e in stored[1:]] == [e.body for e in written]
    record = json.loads(stored[1].body)
    assert set(record) == {"v", "seq", "time", "actor", "action", "subject", "op", "details"}
    assert record["v"] == 1
    assert record["actor"] == {"id": "user:default/alice", "via": "local"}
    assert stored[1].body == canonical_bytes(record)
    assert len({e.op for e in stored[1:]}) == 1  # one operation, one op id


def test_events_roll_back_with_the_change(ws, admin):
    with pytest.raises(RuntimeError), ws.write(admin) as session:
        audit.append(session, admin, [audit.Change("test.thing", "x", {})])
        raise RuntimeError("the change fails after its event was appended")
    with ws.read() as session:
        assert [e.action for e in audit.list_events(session)] == ["workspace.store.created"]


def test_appending_outside_a_write_transaction_is_refused(sqlite_ws, admin):
    with pytest.raises(RuntimeError), transaction(sqlite_ws.engine, write=False) as session:
        audit.append(session, admin, [audit.Change("test.thing", "x", {})])


def test_concurrent_appends_get_unique_contiguous_seqs(ws):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        actor = user_actor(f"user:writer{n}", "local")
        try:
            for i in range(10):
                with ws.write(actor) as session:
                    audit.append(session, actor, [audit.Change("test.tick", f"w{n}", {"i": i})] * 2)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ws.read() as session:
        events = audit.list_events(session)
    assert [e.seq for e in events] == list(range(1, 82))
    # the two events of each append stay adjacent and share their op
    for first, second in zip(events[1::2], events[2::2], strict=True):
        assert first.op == second.op and first.subject == second.subject


def test_list_events_filters(ws, admin):
    bob = user_actor("bob", "local")
    with ws.write(admin) as session:
        audit.append(
            session, admin, [audit.Change("test.a", "s1", {}), audit.Change("test.b", "s2", {})]
        )
    with ws.write(bob) as session:
        audit.append(session, bob, [audit.Change("test.a", "s1", {})])
    with ws.read() as session:
        assert [e.seq for e in audit.list_events(session, subject="s1")] == [2, 4]
        assert [e.seq for e in audit.list_events(session, actor=bob.id)] == [4]
        assert [e.seq for e in audit.list_events(session, limit=2)] == [3, 4]


def test_only_the_audit_package_writes_events():
    """Nothing outside keel.audit touches the events table or its row class."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("audit", "store"):  # the owner, and the migrations creating it
            continue
        text = path.read_text()
        if re.search(r"EventRow|audit_events|audit\.tables", text):
            offenders.append(str(rel))
    assert offenders == []
