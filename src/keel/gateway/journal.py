"""The traffic journal: a request's record is on disk before its answer is released.

The traffic log (`keel.gateway.traffic.TrafficLog`) appends records to the store in batches,
every 0.5 s, off the hot path; a gateway killed with SIGKILL would lose the last batch. So
each record first goes, as one JSON line, to an append-only file of this process
(`<home>/gateway/journal/<process>/`, one `write(2)`, no fsync: it survives the death of the
process, not of the machine), and only then to the traffic log's queue. The gateway records
a request before the last byte of its answer is sent, so no answered request can be
missing from both.

The journal forgets what the store holds: the traffic log tells it, through its `on_write`
callback, how many records it has written (or dropped), in the order it was given them;
once all are stored the file is emptied, and a file grown past `segment_bytes` is replaced
by a new one, the old deleted once stored. A gateway that stops cleanly leaves nothing.

`recover` runs when a gateway starts: the journal of every gateway that died (its lock is
free) is read, the records the store already holds are skipped (request ids; anomalies by
their details) and the others are appended, marked with `answered_at`. Captured payloads
are never journaled (raw text stays off the disk), so a recovered record has none.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from keel import audit
from keel.gateway.traffic import ACTION, GATEWAY, LOG, TrafficLog
from keel.workspace import Workspace

SEGMENT_BYTES = 4 << 20
LOCK = "lock"
logger = logging.getLogger("keel.gateway")


def folder_of(ws: Workspace) -> Path:
    return ws.settings.home / "gateway" / "journal"


class Journal:
    """Stands in front of a TrafficLog: `record` journals, then queues."""

    def __init__(self, root: Path, traffic: TrafficLog, *, segment_bytes: int = SEGMENT_BYTES):
        self.root = root
        self.traffic = traffic
        self.segment_bytes = segment_bytes
        self.folder = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        self._appended = 0  # records journaled (event loop thread)
        self._done = 0  # of those, stored or dropped by the traffic log (its writer thread)
        self._segments: deque[tuple[int, Path]] = deque()  # (first record, file), oldest first
        self._fd = -1
        self._size = 0
        self._lock = -1

    def open(self) -> None:
        """Made under a hidden name and renamed once locked: a gateway starting beside this
        one (another worker) never takes a folder whose lock is not held yet for a dead one's."""
        self.root.mkdir(parents=True, mode=0o700, exist_ok=True)
        making = self.root / f".{self.folder.name}"
        making.mkdir(mode=0o700)
        self._lock = os.open(making / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while the process lives
        making.rename(self.folder)
        self._new_segment()

    def stored(self, written: int, dropped: int) -> None:
        """The traffic log's `on_write`: that many more of the oldest records are settled."""
        self._done += written + dropped

    def record(
        self,
        details: dict[str, Any],
        *,
        action: str = ACTION,
        subject: str | None = None,
        payload: Any = None,
    ) -> None:
        if self._fd >= 0:
            if self._size and self._done >= self._appended:  # everything so far is stored
                self._empty()
            elif self._size > self.segment_bytes:
                self._new_segment()
            line = orjson.dumps((action, subject, details, time.time()), default=str)
            self._size += os.write(self._fd, line + b"\n")
            self._appended += 1
        self.traffic.record(details, action=action, subject=subject, payload=payload)

    def close(self) -> None:
        """After the traffic log's last flush: nothing left to recover, nothing kept."""
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        if self._done >= self._appended:
            shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock)  # a journal left behind is recovered by the next gateway

    def _new_segment(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        path = self.folder / f"{self._appended:012d}.jsonl"
        self._fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        self._size = 0
        self._segments.append((self._appended, path))
        while len(self._segments) > 1 and self._segments[1][0] <= self._done:
            self._segments.popleft()[1].unlink(missing_ok=True)

    def _empty(self) -> None:
        while len(self._segments) > 1:
            self._segments.popleft()[1].unlink(missing_ok=True)
        os.ftruncate(self._fd, 0)
        self._size = 0
        self._segments[0] = (self._appended, self._segments[0][1])


def recover(ws: Workspace, journal: Journal) -> int:
    """Append what dead gateways journaled and the store lacks; returns how many records.
    A journal whose owner still runs (its lock is held) is left alone."""
    if not journal.root.is_dir():
        return 0
    recovered = 0
    for folder in sorted(journal.root.iterdir()):
        if folder == journal.folder:
            continue
        if folder.name.startswith("."):  # being made (it holds no record yet), or left so
            _sweep(folder)
            continue
        try:
            lock = os.open(folder / LOCK, os.O_RDWR)
        except FileNotFoundError:
            continue  # not a journal, or another gateway recovered it just now
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live gateway's
            lines = _read(folder)
            missing = _missing(ws, lines) if lines else []
            for action, subject, details, at in missing:
                details = {"answered_at": _stamp(at), **details}  # the first answer's time
                journal.record(details, action=action, subject=subject)
            recovered += len(missing)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(lock)
    if recovered:
        logger.warning("gateway: recovered %d traffic records of a killed gateway", recovered)
    return recovered


def _sweep(folder: Path, age: float = 60.0) -> None:
    """Delete a hidden folder a gateway died making (its lock free, older than `age` s)."""
    try:
        if time.time() - folder.stat().st_mtime < age:
            return
        lock = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:  # gone, or died before its lock file existed
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.rmtree(folder, ignore_errors=True)
    except BlockingIOError:
        pass
    finally:
        os.close(lock)


def _read(folder: Path) -> list[tuple[str, str | None, dict[str, Any], float]]:
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                action, subject, details, at = orjson.loads(line)
            except (orjson.JSONDecodeError, ValueError):
                continue  # a line cut by the kill: its answer was never released
            if isinstance(details, dict):
                out.append((action, subject, details, at))
    return out


def _missing(ws: Workspace, lines: list) -> list:
    since = _stamp(min(at for *_, at in lines) - 5)
    with ws.read() as session:
        stored = audit.list_events(session, log=LOG, actor=GATEWAY.id, since=since)
    requests = {e.details.get("request") for e in stored if e.action == ACTION}
    others = {_same(e.details) for e in stored if e.action != ACTION}
    return [
        line
        for line in lines
        if (
            line[2].get("request") not in requests
            if line[0] == ACTION
            else _same(line[2]) not in others
        )
    ]


def _same(details: dict[str, Any]) -> bytes:
    return orjson.dumps(details, option=orjson.OPT_SORT_KEYS)


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
