"""SQL on the driver's own cursor, for the hot paths where SQLAlchemy's per-statement work
(~50-150 us: compiling or cache lookup, result wrapping) would cost more than the statement.

The audit log's appends, proofs and verify use it. Statements are written with `?`
placeholders (SQLite's) and run on the caller's connection, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def cursor(conn: Connection) -> Any:
    return conn.connection.driver_connection.cursor()


def spell(conn: Connection, sql: str) -> str:
    """`sql` with the driver's placeholders (psycopg's `%s`); no literal `?` or `%` in it."""
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def fetch_all(
    conn: Connection, sql: str, params: Sequence = (), *, prepare: bool = False
) -> list[tuple]:
    """The rows of `sql`; `prepare` keeps its plan server-side on PostgreSQL (for a statement
    of fixed text run often, whose planning would cost more than running it)."""
    cur = cursor(conn)
    try:
        if prepare and conn.dialect.name != "sqlite":
            return cur.execute(spell(conn, sql), params, prepare=True).fetchall()
        return cur.execute(spell(conn, sql), params).fetchall()
    finally:
        cur.close()


def scalar(conn: Connection, sql: str, params: Sequence = (), *, prepare: bool = False) -> Any:
    rows = fetch_all(conn, sql, params, prepare=prepare)
    return rows[0][0] if rows else None
