"""What the benchmarks share: a PostgreSQL schema of their own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from keel.config import Settings

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_settings(home: Path) -> Iterator[Settings | None]:
    """Settings for a fresh schema on the local PostgreSQL, or None when it is not reachable."""
    schema = f"keel_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        print(f"\nPostgreSQL skipped: {str(exc).splitlines()[0]}")
        admin.dispose()
        yield None
        return
    try:
        yield Settings(home=home, database_url=f"{PG_URL}?options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
