"""One leader at a time: who may run the workspace's background work.

- PostgreSQL: a session-level advisory lock (`LEADER_LOCK`, and a number derived from the
  workspace's name, so that workspaces sharing a database each have a leader) held on a
  connection of its own for as long as the worker leads. PostgreSQL lets go of it when that connection ends, so
  when a leader dies (even by SIGKILL) a waiting worker takes over at its next try, within
  `POLL` seconds. The leader checks its connection on every pass and stops leading when it
  is gone.
- SQLite: an exclusive `flock` on `KEEL_HOME/worker-leader.lock`, which the kernel releases when
  the process dies. One worker per workspace: a second is refused at once, with one line.

`--once` never waits, on either backend. Job slots stay exactly-once even if two workers
ever both believed they led: a slot's record has a primary key and commits with the job's
writes (keel.worker.runner).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from keel.errors import KeelError

LEADER_LOCK = 0x4B45_4C57  # "KELW"; beside keel.store.engine.WRITER_LOCK
LOCK_FILE = "worker-leader.lock"
POLL = 1.0  # seconds between a waiting worker's tries


class LeaderHeld(KeelError):
    """Another worker leads this workspace (exit 1: refused)."""

    exit_code = 1
    http_status = 409


class Leadership:
    """The leader lock of one workspace; `acquire` it, check `held` on every pass, `release`."""

    def __init__(self, engine: Engine, home: Path, name: str) -> None:
        self.engine = engine
        self.home = home
        self.key = workspace_key(name)
        self.postgres = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._file = None

    def try_acquire(self, *, record: bool = True) -> bool:
        """Take the lock if free; on SQLite `record` writes this pid into the lock file."""
        if self.postgres:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = conn.execute(
                    text(f"SELECT pg_try_advisory_lock({LEADER_LOCK}, {self.key})")
                ).scalar()
            except Exception:
                conn.close()
                raise
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        handle = open(self.home / LOCK_FILE, "a+")  # noqa: SIM115  # held while leading
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        if record:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        self._file = handle
        return True

    def acquire(self, *, wait: bool, stop: threading.Event | None = None, say=None) -> bool:
        """Take the lock; refuse (LeaderHeld) when held elsewhere, unless `wait` (PostgreSQL
        only). Returns False when `stop` was set while waiting."""
        if self.try_acquire():
            return True
        if not wait or not self.postgres:
            raise LeaderHeld(self.holder())
        if say:
            say("another keel worker leads this store; waiting to take over")
        while not (stop and stop.is_set()):
            if stop:
                stop.wait(POLL)
            if self.try_acquire():
                return True
        return False

    def holder(self) -> str:
        """One line naming who leads instead."""
        if self.postgres:
            return (
                "another keel worker holds this workspace's leader lock (PostgreSQL advisory "
                f"lock {LEADER_LOCK}, {self.key}); it runs the jobs"
            )
        pid = ""
        with contextlib.suppress(OSError):
            pid = (self.home / LOCK_FILE).read_text().strip()
        who = f" (pid {pid})" if pid.isdigit() else ""
        return f"another keel worker{who} runs this workspace ({self.home}); one per workspace"

    def held(self) -> bool:
        """Whether this process still leads: on PostgreSQL, whether its lock's connection lives."""
        if self.postgres:
            if self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                self._drop()
                return False
        return self._file is not None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text(f"SELECT pg_advisory_unlock({LEADER_LOCK}, {self.key})"))
            self._drop()
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def workspace_key(name: str) -> int:
    """The second half of the lock's key: a signed 32-bit number from the workspace's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


def someone_leads(engine: Engine, home: Path, name: str) -> bool:
    """Whether a worker leads the workspace now (for `keel worker status`)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 2 AND classid::bigint = :a AND objid::bigint = :b "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database())"
                ),
                {"a": LEADER_LOCK, "b": workspace_key(name) % (1 << 32)},
            ).scalar()
        return bool(found)
    probe = Leadership(engine, home, name)
    if probe.try_acquire(record=False):
        probe.release()
        return False
    return True
