"""Events: the record of every mutation, appended by `append()` and nothing else.

Schema version 1 (docs/events.md): `{v, seq, time, actor, action, subject, op, details}`.
`append()` runs inside the caller's write transaction, so an event exists exactly when the
change it records does. Appends are serialised because write transactions are: SQLite's
writer lock (BEGIN IMMEDIATE), the writer advisory lock on PostgreSQL (`keel.store.engine`).
The hot path (head, inserts, tree nodes) runs on the driver's cursor, not the ORM.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit import merkle, tree
from keel.audit.actions import current, stored_names
from keel.audit.canonical import canonical_bytes
from keel.audit.tables import EventRow, NodeRow
from keel.identity import Actor
from keel.store import driver
from keel.store.bulk import insert_together
from keel.store.engine import WRITE

VERSION = 1
GOVERNANCE = "governance"
COLUMNS = ["log", "seq", "time", "actor", "action", "subject", "op", "body"]
_HEAD = "SELECT max(seq) FROM audit_events WHERE log = ?"  # the primary key's last entry


@dataclass(frozen=True, slots=True)
class Change:
    """What a service function asks to record: `action` on `subject`, with `details`."""

    action: str
    subject: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    log: str
    seq: int
    time: str
    actor: dict[str, str]
    action: str
    subject: str
    op: str
    details: dict[str, Any]
    body: bytes  # the canonical bytes, as stored (an old event keeps its old action name here)

    @classmethod
    def from_row(cls, log: str, body: bytes) -> Event:
        data = json.loads(body)
        if data.get("v") != VERSION:
            raise ValueError(
                f"event {log}#{data.get('seq')} has schema v{data.get('v')}; "
                f"this Keel reads v{VERSION}"
            )
        return cls(
            log=log,
            seq=data["seq"],
            time=data["time"],
            actor=data["actor"],
            action=current(data["action"]),  # an old stored name reads as its current one
            subject=data["subject"],
            op=data["op"],
            details=data["details"],
            body=bytes(body),
        )

    def record(self) -> dict[str, Any]:
        return json.loads(self.body)


def new_op() -> str:
    """An id grouping the events of one operation: 32 hex digits, time-ordered like a UUIDv7
    (microseconds, then 72 random bits), so the op index grows at its end instead of
    dirtying a random page of it on every append. The bits only keep ids apart (they are
    no secret): a generator seeded from the OS, not a system call per append."""
    return f"{time.time_ns() // 1000:014x}{_RANDOM.getrandbits(72):018x}"


_RANDOM = random.Random(os.urandom(32))
_ACTORS: dict[tuple[str, str], bytes] = {}  # an actor's canonical bytes, by (id, via)


def _actor_bytes(who: dict[str, str]) -> bytes:
    key = (who["id"], who["via"])
    found = _ACTORS.get(key)
    if found is None or len(who) != 2:
        found = canonical_bytes(who)
        if len(who) == 2 and len(_ACTORS) < 1024:
            _ACTORS[key] = found
    return found


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def append(
    session: Session,
    actor: Actor,
    changes: Sequence[Change],
    *,
    op: str | None = None,
    log: str = GOVERNANCE,
) -> list[Event]:
    """Append one event per change, in the caller's transaction; returns them in order."""
    if not changes:
        return []
    session.flush()  # the change first, as before its event, so a failing change adds none
    conn = session.connection()
    if not conn.get_execution_options().get(WRITE):
        raise RuntimeError("events can only be appended inside a write transaction")
    last, edge = tree.head_with_edge(conn, log, len(changes))
    op = op or new_op()
    stamp = now()
    who = actor.record()
    shared = Shared(_actor_bytes(who), canonical_bytes(op), canonical_bytes(stamp))
    events: list[Event] = []
    rows: list[tuple] = []
    for seq, change in enumerate(changes, start=last + 1):
        body = event_bytes(shared, seq, change)
        events.append(
            Event(log, seq, stamp, who, change.action, change.subject, op, change.details, body)
        )
        rows.append((log, seq, stamp, actor.id, change.action, change.subject, op, body))
    nodes = tree.extension(log, last, edge, [merkle.leaf_hash(e.body) for e in events])
    insert_together(  # one round trip on PostgreSQL for a single append
        conn, [(EventRow.__table__, COLUMNS, rows), (NodeRow.__table__, tree.NODE_COLUMNS, nodes)]
    )
    return events


@dataclass(frozen=True, slots=True)
class Shared:
    """The canonical bytes of the fields all events of one append share."""

    actor: bytes
    op: bytes
    time: bytes


def event_bytes(shared: Shared, seq: int, change: Change) -> bytes:
    """`canonical_bytes` of the event's record, built from its parts (pure; ~2x faster).

    Canonical JSON sorts keys at every level independently, so the record's bytes are its
    sorted top-level keys around each value's own canonical bytes.
    """
    return b"".join(
        (
            b'{"action":',
            canonical_bytes(change.action),
            b',"actor":',
            shared.actor,
            b',"details":',
            canonical_bytes(change.details),
            b',"op":',
            shared.op,
            b',"seq":',
            str(seq).encode(),
            b',"subject":',
            canonical_bytes(change.subject),
            b',"time":',
            shared.time,
            b',"v":%d}' % VERSION,
        )
    )


def head(session: Session, log: str = GOVERNANCE) -> int:
    """The seq of the newest event in `log` (0 when empty): the log's version."""
    return driver.scalar(session.connection(), _HEAD, (log,)) or 0


def after(session: Session, seq: int, *, limit: int, log: str = GOVERNANCE) -> list[Event]:
    """The first `limit` events of `log` after `seq`, in order: how a reader tails the log
    from a cursor it keeps (notifications)."""
    query = (
        select(EventRow.log, EventRow.body)
        .where(EventRow.log == log, EventRow.seq > seq)
        .order_by(EventRow.seq)
        .limit(limit)
    )
    return [Event.from_row(row.log, row.body) for row in session.execute(query)]


def events_at(session: Session, seqs: list[int], *, log: str = GOVERNANCE) -> dict[int, Event]:
    """The events of `log` at `seqs`, by seq, read from their signed bodies (a row whose seq
    column was edited away from its body's is left out)."""
    if not seqs:
        return {}
    rows = session.execute(
        select(EventRow.log, EventRow.body).where(EventRow.log == log, EventRow.seq.in_(seqs))
    )
    found = (Event.from_row(row.log, row.body) for row in rows)
    wanted = set(seqs)
    return {e.seq: e for e in found if e.seq in wanted}


def list_events(
    session: Session,
    *,
    log: str = GOVERNANCE,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    op: str | None = None,
    since: str | None = None,
    until: str | None = None,
    seq: int | None = None,
    after: int | None = None,
    before: int | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events in log order, filtered on the indexed fields and their signed bodies; `limit`
    keeps the newest. `after` and `before` bound the seq (exclusive): a reader that keeps a
    cursor asks for what follows it, a page for what precedes it. `since` is inclusive and
    `until` exclusive (event times, UTC ISO 8601)."""
    query = select(EventRow.log, EventRow.body).where(EventRow.log == log)
    if subject:
        query = query.where(EventRow.subject == subject)
    if actor:
        query = query.where(EventRow.actor == actor)
    if action:
        query = query.where(EventRow.action.in_(stored_names(action)))
    if op:
        query = query.where(EventRow.op == op)
    if since:
        query = query.where(EventRow.time >= since)
    if until:
        query = query.where(EventRow.time < until)
    if seq is not None:
        query = query.where(EventRow.seq == seq)
    if after is not None:
        query = query.where(EventRow.seq > after)
    if before is not None:
        query = query.where(EventRow.seq < before)
    if limit:  # the newest `limit`, still returned oldest first
        query = query.order_by(EventRow.seq.desc()).limit(limit)
        rows = list(session.execute(query))[::-1]
    else:
        rows = list(session.execute(query.order_by(EventRow.seq)))
    events = [Event.from_row(row.log, row.body) for row in rows]
    # the columns only find candidates: what counts is the signed body, so a row whose
    # edited column matches a filter its body does not is left out (verify names it)
    return [
        e
        for e in events
        if (not subject or e.subject == subject)
        and (not actor or e.actor.get("id") == actor)
        and (not action or e.action == current(action))
        and (not op or e.op == op)
        and (not since or e.time >= since)
        and (not until or e.time < until)
        and (seq is None or e.seq == seq)
        and (after is None or e.seq > after)
        and (before is None or e.seq < before)
    ]


def actions(session: Session, log: str = GOVERNANCE) -> list[str]:
    """The current names of every action recorded in `log`, sorted (for filters)."""
    stored = session.scalars(select(EventRow.action).where(EventRow.log == log).distinct())
    return sorted({current(a) for a in stored})
