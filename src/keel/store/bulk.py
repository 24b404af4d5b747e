"""Bulk inserts: PostgreSQL's COPY, SQLite's executemany on the driver's own cursor.

An apply of 10,000 entities writes ~50,000 relations and 10,000 events; through
executemany on PostgreSQL that alone took seconds, through COPY a fraction of one. A few
rows (a single audit append: its event and tree nodes) go as one statement of multi-row
INSERTs instead: one round trip where two COPYs take four. The rows go through the caller's connection, so they share its transaction.
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
        insert_together(conn, [(table, columns, [tuple(row[c] for c in columns) for row in rows])])


def insert_together(conn: Connection, batches: list[tuple[Table, list[str], list[tuple]]]) -> None:
    """Insert (table, columns, rows) batches in order: the audit log's hot path.

    On PostgreSQL, batches of up to FEW rows each go in one statement (data-modifying WITH
    clauses run once and to completion), so a single audit append is one round trip.
    """
    batches = [b for b in batches if b[2]]
    dialect = conn.dialect.name
    if dialect == "postgresql" and all(len(rows) <= FEW for _, _, rows in batches):
        if batches:
            _insert_few(conn, batches)
        return
    for table, columns, rows in batches:
        if dialect == "sqlite":  # the driver's executemany: no per-row compilation
            cursor = conn.connection.driver_connection.cursor()
            cursor.executemany(_statement(conn, "INSERT", table.name, tuple(columns)), rows)
            cursor.close()
        elif dialect == "postgresql":
            (_insert_few if len(rows) <= FEW else _copy)(conn, [(table, columns, rows)])
        else:
            conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _insert_few(conn: Connection, batches: list[tuple[Table, list[str], list[tuple]]]) -> None:
    """One INSERT ... VALUES (...), (...) per batch, chained into one statement."""
    parts, params = [], []
    for table, columns, rows in batches:
        sql = _statement(conn, "INSERT", table.name, tuple(columns))
        marks = sql[sql.index(" VALUES ") + 8 :]
        parts.append(sql + f", {marks}" * (len(rows) - 1))
        params.extend(x for row in rows for x in row)
    *first, last = parts
    chained = ", ".join(f"w{n} AS ({part})" for n, part in enumerate(first))
    with conn.connection.driver_connection.cursor() as cursor:
        # prepared: a single append's statement recurs with a handful of shapes
        cursor.execute((f"WITH {chained} " if first else "") + last, params, prepare=True)


def _copy(conn: Connection, batches: list[tuple[Table, list[str], list[tuple]]]) -> None:
    ((table, columns, rows),) = batches
    with (
        conn.connection.driver_connection.cursor() as cursor,
        cursor.copy(_statement(conn, "COPY", table.name, tuple(columns))) as copy,
    ):
        for row in rows:
            copy.write_row(row)


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
