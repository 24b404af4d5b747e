"""Bulk inserts: PostgreSQL's COPY, SQLite's executemany on the driver's own cursor.

An apply of 10,000 entities writes ~50,000 relations and 10,000 events; through
executemany on PostgreSQL that alone took seconds, through COPY a fraction of one. A few
rows (a single audit append) go as one multi-row INSERT instead: one round trip where COPY
takes two. The rows go through the caller's connection, so they share its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert

FEW = 32  # up to this many rows, PostgreSQL gets one INSERT rather than a COPY
_STATEMENTS: dict[tuple[str, str, str, tuple[str, ...]], str] = {}


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows given as mappings (all with the same keys)."""
    if rows:
        columns = list(rows[0])
        insert_tuples(conn, table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_tuples(conn: Connection, table: Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows given as tuples in `columns` order: the audit log's hot path."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":  # the driver's executemany: no per-row compilation
        cursor = conn.connection.driver_connection.cursor()
        cursor.executemany(_statement(conn, "INSERT", table.name, tuple(columns)), rows)
        cursor.close()
    elif dialect == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor:
            if len(rows) <= FEW:
                sql = _statement(conn, "INSERT", table.name, tuple(columns))
                marks = sql[sql.index(" VALUES ") + 8 :]
                cursor.execute(sql + f", {marks}" * (len(rows) - 1), [x for r in rows for x in r])
            else:
                with cursor.copy(_statement(conn, "COPY", table.name, tuple(columns))) as copy:
                    for row in rows:
                        copy.write_row(row)
    else:
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _statement(conn: Connection, kind: str, table: str, columns: tuple[str, ...]) -> str:
    """The INSERT or COPY statement, built once per table and columns."""
    key = (conn.dialect.name, kind, table, columns)
    if key not in _STATEMENTS:
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        if kind == "COPY":
            _STATEMENTS[key] = f"COPY {quote(table)} ({names}) FROM STDIN"
        else:
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            marks = ", ".join([mark] * len(columns))
            _STATEMENTS[key] = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"
    return _STATEMENTS[key]
