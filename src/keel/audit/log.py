"""The audit log as a whole, over the store: proofs, verification, export, key rotation."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit import checkpoints, keys, merkle, tree, trust
from keel.audit.events import GOVERNANCE, Change, append, head, list_events
from keel.audit.note import NoteError, VerifierKey, parse_checkpoint, signed_by
from keel.audit.tables import CheckpointRow, EventRow
from keel.audit.verify import (
    KEY_EVENT_ACTIONS,
    MAX_TAIL_AGE,
    Result,
    column_problem,
    key_events,
    named_keys,
    verify_log,
)
from keel.errors import NotFoundError, UsageError, WorkspaceError
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
    if size is None:
        found = _inclusion_at_latest(session, seq, log)
        if found is not None:
            return found
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


def _inclusion_at_latest(session: Session, seq: int, log: str) -> Proof | None:
    """The common case in one statement; None sends anything unusual (no checkpoint, a row
    whose size disagrees with its signed note, a missing node) down the general path, which
    names the problem."""
    if not 1 <= seq <= 1 << 62:
        return None
    session.flush()  # as an ORM query would
    found = tree.latest_with_nodes(session.connection(), log, seq - 1)
    if found is None:
        return None
    (row_size, note, time), nodes = found
    signed = checkpoints.from_row(log, row_size, note, time)
    if signed.size != row_size or not 1 <= seq <= signed.size:
        return None
    try:
        leaf, hashes = tree.proof_from(nodes, seq - 1, signed.size)
    except KeyError:
        return None
    return Proof("inclusion", log, signed.size, signed.root, hashes, index=seq - 1, leaf=leaf)


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


# The index columns, rebuilt as the bytes they must be in the signed body: the start
# (`action`, then `actor.id`) and the end (`op`, `seq`, `subject`, `time`, `v`) of the
# canonical record. A row where they differ is checked exactly in Python (`column_problem`:
# a value with characters JSON escapes differs here and agrees there).
#
# SQLite hands the columns over as bytes and Python compares them in the loop that hashes
# the leaves (`_agreeing`): ~0.2 us a row, where building the same bytes in SQL took ~2.5
# (each `||` allocates). PostgreSQL compares them in its own process, beside Python's work.
_PREFIX = """'{"action":"' || action || '","actor":{"id":"' || actor || '",'"""
_SUFFIX = (
    """',"op":"' || op || '","seq":' || seq || ',"subject":"' || subject || """
    """'","time":"' || time || '","v":1}'"""
)
_EVENTS = {
    "sqlite": (
        "SELECT seq, CAST(body AS BLOB), CAST(action AS BLOB), CAST(actor AS BLOB), "
        "CAST(op AS BLOB), CAST(subject AS BLOB), CAST(time AS BLOB) FROM audit_events "
        "WHERE log = ? ORDER BY seq"
    ),
    "postgresql": (
        "SELECT seq, b, substring(b from 1 for length(p)) = p AND "
        "substring(b from greatest(length(b) - length(s) + 1, 1)) = s FROM "
        f"(SELECT seq, CAST(body AS BYTEA) AS b, convert_to({_PREFIX}, 'UTF8') AS p, "
        f"convert_to({_SUFFIX}, 'UTF8') AS s FROM audit_events WHERE log = ? ORDER BY seq) e"
    ),
}


def _agreeing(rows):
    """(seq, body, whether the columns agree with the body) from SQLite's rows of bytes."""
    for seq, body, action, actor, op, subject, stamp in rows:
        try:
            agree = body.startswith(
                b'{"action":"%b","actor":{"id":"%b",' % (action, actor)
            ) and body.endswith(
                b',"op":"%b","seq":%d,"subject":"%b","time":"%b","v":1}' % (op, seq, subject, stamp)
            )
        except TypeError:  # a NULL or a seq that is not a number: the exact check names it
            agree = False
        yield seq, body, agree


_COLUMNS = "SELECT time, actor, action, subject, op FROM audit_events WHERE log = ? AND seq = ?"


def verify(
    session: Session,
    name: str,
    log: str = GOVERNANCE,
    *,
    pinned: bytes | list[VerifierKey] | None = None,
    since: list[str] = (),
    inherited: list[trust.Grant] = (),
    max_tail_age: float | None = MAX_TAIL_AGE,
) -> Result:
    """Recompute `log` from its stored bytes and check it against every signed checkpoint.

    `pinned` are the keys trusted from outside the store (the key file's public key, or
    keys given with --key); without them, the key table's keys are taken as they are, which
    proves the log whole but not whose it is. `since`: checkpoints verified before, which
    the log must still extend. `inherited`: the grants the governance log's verification
    gave, which a traffic log's checkpoints need.
    """
    conn = session.connection()
    if pinned is None:
        roots = keys.verifier_keys(keys.history(session))
    elif isinstance(pinned, bytes):
        roots = [VerifierKey(name, pinned)]
    else:
        roots = list(pinned)
    blob = "BLOB" if conn.dialect.name == "sqlite" else "BYTEA"  # bytes, even if text was
    nodes = _stream(  # written back: a tampered row must fail to match, not break verify
        conn,
        "nodes",
        f"SELECT level, idx, CAST(hash AS {blob}) FROM audit_nodes WHERE log = ? "
        "ORDER BY level, idx",
        log,
    )
    events = _stream(conn, "events", _EVENTS[conn.dialect.name], log)
    rows = _agreeing(events) if conn.dialect.name == "sqlite" else events

    def columns(seq: int, body: bytes) -> str | None:
        row = driver.fetch_all(conn, _COLUMNS, (log, seq))
        if not row:
            return f"event {seq} is deleted while being verified"
        names = ("time", "actor", "action", "subject", "op")
        return column_problem(seq, body, dict(zip(names, row[0], strict=True)))

    try:
        return verify_log(
            log,
            checkpoints.origin_of(name, log),
            rows,
            checkpoints.notes(session, log),
            roots,
            stored_nodes=iter(lambda: nodes.fetchmany(20_000), []),
            inherited=inherited,
            since=since,
            columns=columns,
            max_tail_age=max_tail_age,
        )
    finally:  # a failure stops early: close the streaming cursors it left open
        events.close()
        nodes.close()


def verify_logs(
    session: Session,
    name: str,
    wanted: list[str],
    *,
    pinned: bytes | list[VerifierKey] | None = None,
    since: dict[str, str] | None = None,
    max_tail_age: float | None = MAX_TAIL_AGE,
) -> list[Result]:
    """Verify the `wanted` logs; the governance log always comes first, since the keys of
    the others are introduced in it (it is verified even when not wanted, not reported)."""
    since = since or {}
    governance = verify(
        session,
        name,
        GOVERNANCE,
        pinned=pinned,
        since=[since[GOVERNANCE]] if GOVERNANCE in since else [],
        max_tail_age=max_tail_age,
    )
    results = [governance] if GOVERNANCE in wanted else []
    grants = governance.trust.grants if governance.trust else []
    for log in wanted:
        if log == GOVERNANCE:
            continue
        if governance.trust is None:  # its keys are unknown: say why, once
            results.append(
                Result(log, problems=[f"the governance log failed first: {governance.problems[0]}"])
            )
            continue
        results.append(
            verify(
                session,
                name,
                log,
                pinned=pinned,
                since=[since[log]] if log in since else [],
                inherited=grants,
                max_tail_age=max_tail_age,
            )
        )
    return results


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


def trusted(session: Session, name: str, pinned: list[VerifierKey]) -> trust.Trust:
    """The governance keys a verifier pinning `pinned` trusts, by the rule `verify` applies
    (`keel.audit.trust`), without recomputing the whole log: a key event counts when a
    checkpoint signed by an already-trusted key covers it, shown by the event's inclusion
    proof against that checkpoint's signed root. What `keel attest verify` trusts.

    The key table is never read: with store access alone, a key row (or a key event with
    no endorsement, or one no trusted checkpoint covers) adds no trust.
    """
    conn = session.connection()
    found = [
        (e.seq, e.body)
        for e in list_events(session, subject="workspace")
        if e.body.startswith(KEY_EVENT_ACTIONS)
    ]
    events = key_events(found)
    roots = trust.roots(pinned, name)
    candidates = list({g.key: None for g in roots})
    for _, body in found:
        candidates.extend(named_keys(body, name))
    origin = checkpoints.origin_of(name, GOVERNANCE)
    signed: list[tuple[int, bytes, _Signers]] = []
    for note in checkpoints.notes(session, GOVERNANCE):
        try:
            cp = parse_checkpoint(note.rpartition("\n\n")[0] + "\n")
        except (NoteError, AttributeError):
            continue  # not a checkpoint anyone made: it vouches for nothing
        if cp.origin == origin:
            signed.append((cp.size, cp.root, _Signers(note, candidates)))
    roots_at = {size: root for size, root, _ in signed}
    bodies = dict(found)
    memo: dict[int, bool] = {}

    def matches(size: int) -> bool:  # every key event it covers is in it, as stored
        if size not in memo:
            memo[size] = all(
                _included(conn, seq, bodies[seq], size, roots_at[size])
                for seq in bodies
                if seq <= size
            )
        return memo[size]

    return trust.derive(name, roots, events, [(s, k) for s, _, k in signed], matches)


class _Signers:
    """Which candidates signed a note, worked out only when asked: a verifier of a bundle
    needs the checkpoints that cover key events, not every checkpoint's signatures."""

    def __init__(self, note: str, candidates: list[VerifierKey]):
        self.note, self.candidates, self.found = note, candidates, None

    def __iter__(self):
        if self.found is None:
            try:
                self.found = signed_by(self.note, self.candidates)[1]
            except NoteError:
                self.found = []
        return iter(self.found)


def _included(conn, seq: int, body: bytes, size: int, root: bytes) -> bool:
    try:
        _, proof = tree.inclusion_proof(conn, GOVERNANCE, seq - 1, size)
        merkle.verify_inclusion(seq - 1, size, merkle.leaf_hash(body), proof, root)
    except (WorkspaceError, merkle.ProofError):
        return False
    return True


VERIFIED_FILE = "audit-verified.json"


def remembered(home: Path) -> dict[str, str]:
    """The newest checkpoint of each log this host has verified (log -> signed note)."""
    try:
        data = json.loads((home / VERIFIED_FILE).read_text())
        return {log: entry["note"] for log, entry in data.items() if isinstance(entry["note"], str)}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(
            f"{home / VERIFIED_FILE} is damaged: it holds the checkpoints this host verified; "
            "restore it from a backup (deleting it forgets what was verified)"
        ) from None


def remember(home: Path, results: list[Result]) -> None:
    """Keep the newest verified checkpoint of each log, for the next verify to extend."""
    data = {log: {"note": note} for log, note in remembered(home).items()}
    for result in results:
        if result.ok and result.latest:
            data[result.log] = {"note": result.latest}
    with _atomic(home / VERIFIED_FILE, "w") as out:
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def export(session: Session, name: str, folder: Path, log: str = GOVERNANCE) -> int:
    """Write events (canonical bytes, one per line), checkpoints and key history to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    events_t = EventRow.__table__
    count = 0
    with _atomic(folder / "events.jsonl", "wb") as out:
        query = select(events_t.c.body).where(events_t.c.log == log).order_by(events_t.c.seq)
        rows = session.connection().execute(query.execution_options(yield_per=20_000))
        for (body,) in rows:
            out.write(bytes(body) + b"\n")
            count += 1
    rows = session.execute(
        select(CheckpointRow).where(CheckpointRow.log == log).order_by(CheckpointRow.size)
    ).scalars()
    cps = [  # as stored: a corrupt one is the offline verifier's to name
        {"size": r.size, "root": bytes(r.root).hex(), "time": r.time, "note": r.note} for r in rows
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
    """Replace the governance key. The rotation event carries the old key's endorsement of
    the new one, and is signed at once by a checkpoint carrying both keys' signatures: a
    verifier that trusts either key comes to trust the other through it."""
    old, new = keys.rotate(session, home, name)
    endorsement = trust.endorse(
        old.private_key, name, GOVERNANCE, trust.ROTATED, new.public_key, old.public_key
    )
    append(
        session,
        actor,
        [
            Change(
                trust.ROTATED,
                "workspace",
                {
                    "log": GOVERNANCE,
                    "old": {"key_id": old.key_id, "public_key": old.public_key.hex()},
                    "new": {"key_id": new.key_id, "public_key": new.public_key.hex()},
                    "endorsement": endorsement,
                },
            )
        ],
    )
    checkpoints.checkpoint(session, old, cosigner=new)
    return new


def introduction(governance: keys.Signer, key: keys.Signer, log: str) -> dict:
    """The details of an event that introduces the key that signs `log` (the traffic
    log's, say), endorsed by the governance key: `audit.key.introduced`, or the
    `introduces` of `workspace.store.created`. The key is trusted once a governance checkpoint
    covers the event."""
    return {
        "log": log,
        "key": {"key_id": key.key_id, "name": key.name, "public_key": key.public_key.hex()},
        "endorsement": trust.endorse(
            governance.private_key, governance.name, log, trust.INTRODUCED, key.public_key
        ),
    }


def introduced(session: Session, key_id: str) -> bool:
    """Whether a key event names `key_id` (found through the subject index)."""
    for event in list_events(session, subject="workspace"):
        details = event.details.get("introduces", event.details)
        if event.action in (*trust.KEY_ACTIONS, "workspace.store.created") and isinstance(
            details, dict
        ):
            named = [details.get(k) for k in ("key", "new")]
            if key_id in {d.get("key_id") for d in named if isinstance(d, dict)}:
                return True
    return False


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
