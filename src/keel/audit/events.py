"""Events: the record of every mutation, appended by `append()` and nothing else.

Schema version 1 (docs/events.md): `{v, seq, time, actor, action, subject, op, details}`.
`append()` runs inside the caller's write transaction, so an event exists exactly when the
change it records does. Appends are serialised per log: SQLite's writer lock (the store
opens write transactions with BEGIN IMMEDIATE), a transaction-scoped advisory lock on
PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from keel.audit import merkle, tree
from keel.audit.canonical import canonical_bytes
from keel.audit.tables import EventRow
from keel.identity import Actor
from keel.store.bulk import insert_tuples
from keel.store.engine import WRITE

VERSION = 1
GOVERNANCE = "governance"
COLUMNS = ["log", "seq", "time", "actor", "action", "subject", "op", "body"]


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
    body: bytes  # the canonical bytes, as stored

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
            action=data["action"],
            subject=data["subject"],
            op=data["op"],
            details=data["details"],
            body=bytes(body),
        )

    def record(self) -> dict[str, Any]:
        return json.loads(self.body)


def new_op() -> str:
    """An id grouping the events of one operation."""
    return uuid.uuid4().hex


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
    _lock(session, log)
    last = session.execute(select(func.max(EventRow.seq)).where(EventRow.log == log)).scalar()
    op = op or new_op()
    time = now()
    events: list[Event] = []
    rows: list[tuple] = []
    for offset, change in enumerate(changes, start=1):
        record = {
            "v": VERSION,
            "seq": (last or 0) + offset,
            "time": time,
            "actor": actor.record(),
            "action": change.action,
            "subject": change.subject,
            "op": op,
            "details": change.details,
        }
        body = canonical_bytes(record)
        events.append(
            Event(
                log,
                record["seq"],
                time,
                record["actor"],
                change.action,
                change.subject,
                op,
                change.details,
                body,
            )
        )
        rows.append((log, record["seq"], time, actor.id, change.action, change.subject, op, body))
    conn = session.connection()
    insert_tuples(conn, EventRow.__table__, COLUMNS, rows)
    tree.extend(conn, log, last or 0, [merkle.leaf_hash(e.body) for e in events])
    return events


def _lock(session: Session, log: str) -> None:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(log)})
    elif not conn.get_execution_options().get(WRITE):
        raise RuntimeError("events can only be appended inside a write transaction")


def _lock_key(log: str) -> int:
    # A stable 63-bit key per log; the high word marks it as Keel's.
    return (0x4B45 << 32) | zlib.crc32(log.encode())


def head(session: Session, log: str = GOVERNANCE) -> int:
    """The seq of the newest event in `log` (0 when empty): the log's version."""
    return session.scalar(select(func.max(EventRow.seq)).where(EventRow.log == log)) or 0


def list_events(
    session: Session,
    *,
    log: str = GOVERNANCE,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    op: str | None = None,
    since: str | None = None,
    seq: int | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events in log order, filtered on the indexed fields; `limit` keeps the newest."""
    query = select(EventRow.log, EventRow.body).where(EventRow.log == log)
    if subject:
        query = query.where(EventRow.subject == subject)
    if actor:
        query = query.where(EventRow.actor == actor)
    if action:
        query = query.where(EventRow.action == action)
    if op:
        query = query.where(EventRow.op == op)
    if since:
        query = query.where(EventRow.time >= since)
    if seq is not None:
        query = query.where(EventRow.seq == seq)
    if limit:  # the newest `limit`, still returned oldest first
        query = query.order_by(EventRow.seq.desc()).limit(limit)
        rows = list(session.execute(query))[::-1]
    else:
        rows = list(session.execute(query.order_by(EventRow.seq)))
    return [Event.from_row(row.log, row.body) for row in rows]
