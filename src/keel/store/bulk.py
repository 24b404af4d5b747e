"""Bulk inserts: PostgreSQL's COPY, SQLite's executemany on the driver's own cursor.

An apply of 10,000 entities writes ~50,000 relations and 10,000 events; through
executemany on PostgreSQL that alone took seconds, through COPY a fraction of one.
The rows go through the caller's connection, so they share its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows given as mappings (all with the same keys)."""
    if rows:
        columns = list(rows[0])
        insert_tuples(conn, table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_tuples(conn: Connection, table: Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows given as tuples in `columns` order: the audit log's hot path."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "sqlite":  # the driver's executemany: no per-row compilation
        marks = ", ".join("?" * len(columns))
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", rows)
        cursor.close()
    elif conn.dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
