"""Bulk inserts: PostgreSQL's COPY, SQLite's executemany on the driver's own cursor.

An apply of 10,000 entities writes ~50,000 relations and 10,000 events; through
executemany on PostgreSQL that alone took seconds, through COPY a fraction of one.
The rows go through the caller's connection, so they share its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "sqlite":  # the driver's executemany: no per-row compilation
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(
            f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})",
            [tuple(row[c] for c in columns) for row in rows],
        )
        cursor.close()
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
