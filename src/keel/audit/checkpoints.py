"""Signed checkpoints of each log: at most one a second while events arrive, and on demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit import tree
from keel.audit.events import GOVERNANCE, head
from keel.audit.keys import Signer
from keel.audit.note import Checkpoint, NoteError, cosign, parse_checkpoint, sign
from keel.audit.tables import CheckpointRow
from keel.errors import WorkspaceError
from keel.store import driver

INTERVAL = timedelta(seconds=1)
_LATEST = "SELECT size, note, time FROM audit_checkpoints WHERE log = ? ORDER BY size DESC LIMIT 1"


@dataclass(frozen=True)
class Signed:
    log: str
    size: int
    root: bytes
    note: str
    time: str


def origin_of(name: str, log: str) -> str:
    return f"{name}/{log}"


def workspace_of(signer: Signer, log: str) -> str:
    """The workspace name of a log's signer (the traffic key is named `<workspace>/traffic`)."""
    suffix = f"/{log}"
    return signer.name[: -len(suffix)] if signer.name.endswith(suffix) else signer.name


def latest(session: Session, log: str = GOVERNANCE) -> Signed | None:
    # On the driver's cursor: every proof asks, and so does every write's checkpoint check.
    session.flush()  # as an ORM query would
    rows = driver.fetch_all(session.connection(), _LATEST, (log,))
    return from_row(log, *rows[0]) if rows else None


def all_checkpoints(session: Session, log: str = GOVERNANCE) -> list[Signed]:
    rows = session.execute(
        select(CheckpointRow).where(CheckpointRow.log == log).order_by(CheckpointRow.size)
    )
    return [from_row(r.log, r.size, r.note, r.time) for r in rows.scalars()]


def notes(session: Session, log: str = GOVERNANCE) -> list[str]:
    """Every stored checkpoint of `log` as its signed note, unparsed (verify judges them)."""
    rows = session.execute(
        select(CheckpointRow.note).where(CheckpointRow.log == log).order_by(CheckpointRow.size)
    )
    return list(rows.scalars())


def checkpoint(
    session: Session,
    signer: Signer,
    log: str = GOVERNANCE,
    *,
    force: bool = True,
    cosigner: Signer | None = None,
) -> Signed | None:
    """Sign the log's current size; without `force`, only if the last one is over a second old.

    Returns the latest checkpoint (new or not), or None for an empty log or when not due.
    `cosigner` adds a second signature (a key rotation's new key).
    """
    size = head(session, log)
    last = latest(session, log)
    if size == 0 or (last and last.size == size):
        return last
    if last and size < last.size:
        raise WorkspaceError(
            f"the {log} log holds {size} events but was signed at {last.size}: "
            "events were deleted; run `keel audit verify`"
        )
    now = datetime.now(UTC)
    if (
        not force
        and last
        and now - datetime.fromisoformat(last.time.replace("Z", "+00:00")) < INTERVAL
    ):
        return None
    root = tree.root(session.connection(), log, size)
    note = sign(
        Checkpoint(origin_of(workspace_of(signer, log), log), size, root),
        signer.name,
        signer.private_key,
    )
    if cosigner is not None:
        note = cosign(note, cosigner.name, cosigner.private_key)
    stamp = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    session.add(CheckpointRow(log=log, size=size, root=root, note=note, time=stamp))
    session.flush()
    return Signed(log, size, root, note, stamp)


def from_row(log: str, size: int, note: str, time: str) -> Signed:
    """The signed note is the record: size and root come from it, not from the row's copies."""
    try:
        parsed = parse_checkpoint(note.rpartition("\n\n")[0] + "\n")
    except (NoteError, AttributeError):
        raise WorkspaceError(
            f"the stored checkpoint of {log} at {size} is corrupt: run `keel audit verify`"
        ) from None
    return Signed(log, parsed.size, parsed.root, note, time)
