"""What the benchmarks share: a PostgreSQL schema of their own, dropped afterwards, and the
rows that print a figure beside its target and their ratio (>1 is better than required)."""

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


def rate_row(label: str, value: float, unit: str, target: float, higher_is_better: bool) -> None:
    """A figure against its target: a rate to reach (higher is better) or a cost to stay under."""
    ratio = value / target if higher_is_better else target / max(value, 1e-12)
    bound = ">=" if higher_is_better else "<="
    print(
        f"  {label:52} {value:12,.3f} {unit:8} {ratio:6.1f}x  (target {bound} {target:,g} {unit})"
    )


def time_row(label: str, seconds: float, target: float | None = None, note: str = "") -> None:
    """A duration, in ms below a second, against an optional target in seconds."""
    ratio = f"{target / seconds:6.1f}x" if target else "      "
    goal = ""
    if target:
        goal = f"(target {target * 1000:.0f} ms)" if target < 1 else f"(target {target:.0f} s)"
    shown = f"{seconds * 1000:8.1f} ms" if seconds < 1 else f"{seconds:8.2f} s "
    print(f"  {label:44} {shown} {ratio} {goal} {note}")
