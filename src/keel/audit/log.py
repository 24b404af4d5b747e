"""The audit log as a whole, over the store: proofs, verification, export, key rotation."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit import checkpoints, keys, tree
from keel.audit.events import GOVERNANCE, Change, append, head, list_events
from keel.audit.tables import EventRow
from keel.audit.verify import Result, verify_log
from keel.errors import NotFoundError, UsageError
from keel.identity import Actor
from keel.store import driver


@dataclass
class Proof:
    kind: str  # inclusion | consistency
    log: str
    size: int
    root: bytes
    hashes: list[bytes]
    index: int | None = None  # inclusion: the leaf (0-based)
    leaf: bytes | None = None
    size1: int | None = None  # consistency: the older size
    root1: bytes | None = None

    def as_dict(self) -> dict:
        out = {
            "kind": self.kind,
            "log": self.log,
            "size": self.size,
            "root": self.root.hex(),
            "proof": [h.hex() for h in self.hashes],
        }
        if self.kind == "inclusion":
            out.update(
                leaf_index=self.index,
                seq=(self.index or 0) + 1,
                leaf_hash=self.leaf.hex() if self.leaf else None,
            )
        else:
            out.update(size1=self.size1, root1=self.root1.hex() if self.root1 else None)
        return out


def logs(session: Session) -> list[str]:
    found = session.execute(select(EventRow.log).distinct().order_by(EventRow.log)).scalars().all()
    return list(found) or [GOVERNANCE]


def _target(session: Session, log: str, size: int | None) -> tuple[int, bytes | None]:
    """The tree size to prove against, and its root when a signed checkpoint already has it."""
    if size is not None:
        return size, None
    latest = checkpoints.latest(session, log)
    if latest is None:
        raise NotFoundError(f"the {log} log has no checkpoint yet: run `keel audit checkpoint`")
    return latest.size, latest.root


def inclusion(
    session: Session, seq: int, *, size: int | None = None, log: str = GOVERNANCE
) -> Proof:
    """The proof that event `seq` (1-based) is in the log at `size` (default: latest checkpoint)."""
    size, known_root = _target(session, log, size)
    if known_root is None and size > head(session, log):
        raise UsageError(f"the {log} log has only {head(session, log)} events, not {size}")
    if not 1 <= seq <= size:
        raise UsageError(f"event {seq} is not in the log at size {size}")
    conn = session.connection()
    leaf, hashes = tree.inclusion_proof(conn, log, seq - 1, size)
    return Proof(
        "inclusion",
        log,
        size,
        known_root or tree.root(conn, log, size),
        hashes,
        index=seq - 1,
        leaf=leaf,
    )


def consistency(
    session: Session, size1: int, size2: int | None = None, *, log: str = GOVERNANCE
) -> Proof:
    size2, _ = _target(session, log, size2)
    if size2 > head(session, log):
        raise UsageError(f"the {log} log has only {head(session, log)} events, not {size2}")
    if not 1 <= size1 <= size2:
        raise UsageError(f"no consistency proof from size {size1} to size {size2}")
    conn = session.connection()
    hashes = tree.consistency_proof(conn, log, size1, size2) if size1 < size2 else []
    return Proof(
        "consistency",
        log,
        size2,
        tree.root(conn, log, size2),
        hashes,
        size1=size1,
        root1=tree.root(conn, log, size1),
    )


def verify(
    session: Session, name: str, log: str = GOVERNANCE, *, pinned: bytes | None = None
) -> Result:
    """Recompute `log` from its stored bytes and check it against every signed checkpoint.

    With `pinned` (the public key of the workspace's key file), only that key and the keys
    named by `audit.key.rotated` events are trusted, not whatever the key table holds.
    """
    conn = session.connection()
    history = keys.verifier_keys(keys.history(session))
    if pinned is not None:
        allowed = {pinned} | _rotated_keys(session)
        history = [k for k in history if k.public_key in allowed]
    blob = "BLOB" if conn.dialect.name == "sqlite" else "BYTEA"  # bytes, even if text was
    nodes = _stream(  # written back: a tampered row must fail to match, not break verify
        conn,
        "nodes",
        f"SELECT level, idx, CAST(hash AS {blob}) FROM audit_nodes WHERE log = ? "
        "ORDER BY level, idx",
        log,
    )
    events = _stream(
        conn,
        "events",
        f"SELECT seq, CAST(body AS {blob}) FROM audit_events WHERE log = ? ORDER BY seq",
        log,
    )
    try:
        return verify_log(
            log,
            checkpoints.origin_of(name, log),
            events,
            [c.note for c in checkpoints.all_checkpoints(session, log)],
            history,
            stored_nodes=nodes,
        )
    finally:  # a failure stops early: close the streaming cursors it left open
        events.close()
        nodes.close()


def _stream(conn, name: str, sql: str, log: str):
    """Rows as tuples on the driver's cursor, a server-side one on PostgreSQL: a million rows
    through SQLAlchemy's result machinery take ~3x longer."""
    if conn.dialect.name == "sqlite":
        cursor = driver.cursor(conn)
    else:
        cursor = conn.connection.driver_connection.cursor(name=f"keel_verify_{name}")
        cursor.itersize = 20_000
    cursor.execute(driver.spell(conn, sql), (log,))
    return cursor


def _rotated_keys(session: Session) -> set[bytes]:
    found: set[bytes] = set()
    # through the subject index: `action` has none, and a scan of a large log takes seconds
    for event in list_events(session, subject="workspace", action="audit.key.rotated"):
        for side in ("old", "new"):
            try:
                found.add(bytes.fromhex(event.details[side]["public_key"]))
            except (KeyError, TypeError, ValueError):
                continue
    return found


def export(session: Session, name: str, folder: Path, log: str = GOVERNANCE) -> int:
    """Write events (canonical bytes, one per line), checkpoints and key history to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    events_t = EventRow.__table__
    count = 0
    with _atomic(folder / "events.jsonl", "wb") as out:
        rows = (
            session.connection()
            .execution_options(yield_per=20_000)
            .execute(select(events_t.c.body).where(events_t.c.log == log).order_by(events_t.c.seq))
        )
        for (body,) in rows:
            out.write(bytes(body) + b"\n")
            count += 1
    cps = [
        {"size": c.size, "root": c.root.hex(), "time": c.time, "note": c.note}
        for c in checkpoints.all_checkpoints(session, log)
    ]
    for file, data in (
        ("checkpoints.json", cps),
        ("keys.json", keys.history(session)),
        (
            "log.json",
            {
                "log": log,
                "origin": checkpoints.origin_of(name, log),
                "events": count,
                "verify": "python -m keel.audit.verify DIR",
            },
        ),
    ):
        with _atomic(folder / file, "w") as out:
            out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return count


def rotate_key(session: Session, actor: Actor, home: Path, name: str) -> keys.Signer:
    old, new = keys.rotate(session, home, name)
    append(
        session,
        actor,
        [
            Change(
                "audit.key.rotated",
                "workspace",
                {
                    "old": {"key_id": old.key_id, "public_key": old.public_key.hex()},
                    "new": {"key_id": new.key_id, "public_key": new.public_key.hex()},
                },
            )
        ],
    )
    return new


class _atomic:
    """Write a file whole or not at all (temporary file, fsync, rename)."""

    def __init__(self, path: Path, mode: str):
        self.path, self.tmp, self.mode = path, path.with_name(path.name + ".tmp"), mode

    def __enter__(self):
        self.file = open(self.tmp, self.mode)
        return self.file

    def __exit__(self, kind, value, tb) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
