"""The traffic record: the declared schema of `gateway.request.handled` (documented field by field
in docs/events.md), the release that answered, and the journal that keeps a record on disk
until the store holds it."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from keel import audit
from keel.gateway.config import Grant
from keel.gateway.forward import answered_release
from keel.gateway.hooks import Call
from keel.gateway.journal import Journal, recover
from keel.gateway.traffic import RequestEvent, TrafficLog, request_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
ONE = "model:default/credit-scorer@2"
TWO = "model:default/fraud-model@5"


def _documented(action: str) -> set[str]:
    """The fields the table under `### <action>` in docs/events.md names."""
    text = DOCS.read_text()
    section = text.split(f"### `{action}`", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))


def test_every_field_of_the_request_event_is_documented_and_nothing_else():
    declared = {f.name for f in dataclasses.fields(RequestEvent)}
    assert _documented("gateway.request.handled") == declared


def _call(**fields) -> Call:
    grant = Grant("gk_1", "app", "production", frozenset(), frozenset(), None, None, None)
    call = Call("ab-1", "chat", 0.0, grant=grant, endpoint="api:default/x", status=200)
    for name, value in fields.items():
        setattr(call, name, value)
    return call


def test_the_event_keeps_optional_fields_out_when_unset():
    plain = request_event(_call(releases=(ONE,), release=ONE), 0.0012345, None).details()
    assert plain == {
        "request": "ab-1",
        "operation": "chat",
        "key": "gk_1",
        "consumer": "app",
        "endpoint": "api:default/x",
        "environment": "production",
        "release": ONE,
        "status": 200,
        "decision": "allowed",
        "latency_ms": 1.234,
    }
    full = request_event(
        _call(
            releases=(ONE, TWO),
            upstream_seconds=0.0005,
            stream=True,
            reserved=10,
            usage={"prompt_tokens": 3, "completion_tokens": 4},
            limit="unchecked",
            findings=[{"type": "EMAIL_ADDRESS"}],
        ),
        0.001,
        7,
    ).details()
    assert full["release"] is None and full["releases"] == [ONE, TWO]
    assert full["tokens"] == {"reserved": 10, "prompt": 3, "completion": 4, "total": 7}
    assert full["limit"] == "unchecked" and full["stream"] is True and full["upstream_ms"] == 0.5


def test_the_release_that_answered():
    assert answered_release((), None) is None
    assert answered_release((ONE,), None) == ONE  # the only one serving
    assert answered_release((ONE, TWO), None) is None  # several, and nothing tells which
    assert answered_release((ONE, TWO), TWO) == TWO  # the upstream's x-keel-release
    assert answered_release((ONE, TWO), "model:default/other@1") is None
    assert answered_release((ONE, TWO), None, "fraud-model") == TWO  # the answer's model
    assert answered_release((ONE, TWO), None, "credit-scorer@2") == ONE
    assert answered_release((ONE, TWO), None, "gpt-4o") is None


def _lines(journal: Journal) -> int:
    return sum(p.read_bytes().count(b"\n") for p in journal.folder.glob("*.jsonl"))


def test_the_journal_forgets_what_the_store_holds(sqlite_ws, tmp_path):
    log = TrafficLog(sqlite_ws, on_write=lambda w, d: journal.stored(w, d))
    journal = Journal(tmp_path / "journal", log, segment_bytes=400)
    journal.open()
    for i in range(10):
        journal.record({"request": f"r-{i}"}, subject="api:default/x")
    assert _lines(journal) == 10 and len(list(journal.folder.glob("*.jsonl"))) > 1
    log.flush()  # the store holds them all: the next record empties the journal
    journal.record({"request": "r-10"}, subject="api:default/x")
    assert _lines(journal) == 1 and len(list(journal.folder.glob("*.jsonl"))) == 1
    log.flush()
    journal.close()
    assert not journal.folder.exists()  # a clean stop leaves nothing


def test_a_dead_gateways_journal_is_recovered_once(sqlite_ws, tmp_path):
    root = tmp_path / "journal"
    dead_log = TrafficLog(sqlite_ws)  # killed before it could tell the journal: no on_write
    dead = Journal(root, dead_log)
    dead.open()
    for i in range(3):
        dead.record({"request": f"r-{i}"}, subject="api:default/x")
    dead_log.flush()  # these three reached the store (and are still in the journal)...
    for i in range(3, 5):
        dead.record({"request": f"r-{i}"}, subject="api:default/x")  # ...these two did not
    dead.record({"kind": "burst", "key": "gk_1"}, action="gateway.anomaly.detected", subject="c:x")
    os.close(dead._lock)  # the process dies: its lock goes with it, its files stay
    with (dead.folder / "000000000005.jsonl").open("ab") as torn:
        torn.write(
            b'["gateway.request.handled", "api:default/x", {"request": "r-cut'
        )  # cut mid-write

    log = TrafficLog(sqlite_ws, on_write=lambda w, d: alive.stored(w, d))
    alive = Journal(root, log)
    alive.open()
    assert recover(sqlite_ws, alive) == 3
    assert recover(sqlite_ws, alive) == 0  # the dead journal is gone
    log.flush()
    with sqlite_ws.read() as session:
        events = audit.list_events(session, log="traffic")
    requests = [e.details.get("request") for e in events if e.action == "gateway.request.handled"]
    assert requests == ["r-0", "r-1", "r-2", "r-3", "r-4"]
    assert [e.details.get("answered_at") is not None for e in events] == [False] * 3 + [True] * 3
    assert [e.action for e in events].count("gateway.anomaly.detected") == 1
    assert not dead.folder.exists()


def test_a_live_gateways_journal_is_left_alone(sqlite_ws, tmp_path):
    root = tmp_path / "journal"
    other = Journal(root, TrafficLog(sqlite_ws))
    other.open()
    other.record({"request": "theirs"}, subject="api:default/x")
    mine = Journal(root, TrafficLog(sqlite_ws))
    mine.open()
    assert recover(sqlite_ws, mine) == 0
    assert _lines(other) == 1
