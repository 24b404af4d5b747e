"""Engines and transactions for the two backends.

SQLite (embedded default): WAL journal, `synchronous=FULL`, foreign keys on. Write
transactions start with `BEGIN IMMEDIATE`, so the writer lock is taken before anything is
read and two writers queue instead of failing half-way. PostgreSQL (scale-out): read
transactions are `READ ONLY`; write transactions take one advisory lock before anything
else, so writers queue as they do on SQLite and a read-then-write (apply) never races.

Write transactions run on one connection an engine keeps for them (`_Writer`): writers
queue for the store's one write lock anyway, so taking turns on one connection in a process
costs no concurrency, and saves a pool checkout and checkin (and PostgreSQL's pre-ping
round trip) per write: ~20% of a single durable audit append. A connection idle for over a
second goes back to the pool and the next write checks one out (pinged) again.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session

from keel.store import driver

WRITE = "keel_write"
WRITER_LOCK = 0x4B45_4C00  # PostgreSQL advisory lock key held by every write transaction
_WRITER_LOCK_SQL = "SELECT pg_advisory_xact_lock(?)"
NEVER_AUTOMATICALLY = 1 << 62  # psycopg's prepare_threshold: runs before a statement is prepared


def normalise_url(url: str) -> str:
    """Accept the common spellings of a PostgreSQL URL and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`, set up for Keel's transaction discipline."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        # psycopg prepares a statement server-side after 5 runs; the generic plans it then
        # gets made the chunked key lookups of apply ~30x slower (0.2 s instead of 6 ms each).
        # So no statement is prepared unless it asks (`driver.fetch_all(prepare=True)`); None
        # would refuse even those.
        connect_args = {"prepare_threshold": NEVER_AUTOMATICALLY}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    engine.keel_writer = writer = _Writer(engine)  # type: ignore[attr-defined]
    # disposing closes the kept connection too (it is not in the pool to be closed)
    event.listen(engine, "engine_disposed", lambda _engine: writer.close())
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN, so writers can ask for IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "busy_timeout=30000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn) -> None:
    write = conn.get_execution_options().get(WRITE, False)
    # On the driver itself: through exec_driver_sql this took ~15 us of every transaction.
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")


class _Writer:
    """The connection an engine keeps for write transactions, used by one at a time."""

    IDLE = 1.0  # seconds unused after which it goes back to the pool

    def __init__(self, engine: Engine):
        self.engine = weakref.proxy(engine)
        self.lock = threading.Lock()
        self.conn: Connection | None = None
        self.used = 0.0
        self.owner: int | None = None

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if self.owner == threading.get_ident():  # a write inside a write: its own, as before
            with self.engine.connect() as conn:
                yield conn.execution_options(**{WRITE: True})
            return
        with self.lock:
            self.owner = threading.get_ident()
            try:
                conn = self.conn
                if conn is None or conn.invalidated or time.monotonic() - self.used > self.IDLE:
                    self._release()
                    conn = self.conn = self.engine.connect().execution_options(**{WRITE: True})
                yield conn
                if dict(conn.get_execution_options()) != {WRITE: True}:
                    self._release()  # a caller set options of its own: they end here
            except BaseException:
                self._release()  # in a state not worth finding out: not kept
                raise
            finally:
                self.used = time.monotonic()
                self.owner = None

    def _release(self, *, drop: bool = False) -> None:
        """Back to the pool, or (`drop`, when the pool is gone) closed for good."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            with suppress(Exception):  # a connection that is gone is closed enough
                if drop:
                    conn.invalidate()
                conn.close()

    def close(self) -> None:
        if self.owner == threading.get_ident():  # disposed from inside a write
            self._release(drop=True)
            return
        with self.lock:
            self._release(drop=True)


@contextmanager
def _connection(engine: Engine, write: bool) -> Iterator[Connection]:
    writer = getattr(engine, "keel_writer", None) if write else None
    if writer is not None:
        with writer.connection() as conn:
            yield conn
    else:
        with engine.connect() as conn:
            yield conn.execution_options(**{WRITE: write})


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with _connection(engine, write) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            if write:  # one writer at a time, as SQLite's BEGIN IMMEDIATE gives
                driver.fetch_all(conn, _WRITER_LOCK_SQL, (WRITER_LOCK,), prepare=True)
            else:  # one snapshot for the whole read, as a SQLite read has
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.flush()
