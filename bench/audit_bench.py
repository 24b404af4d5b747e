"""Audit log speed: appends (batched and one by one, durable), verify, inclusion proofs.

Targets (issue: the audit spine), on this 2-core machine with SQLite:
  >= 50,000 events/s appended in batches of 1,000; >= 2,000/s one by one, each committed;
  `audit verify` of 1,000,000 events <= 10 s; an inclusion proof at 1,000,000 events <= 1 ms.
Ratios are printed against the targets (>1 is faster than required). PostgreSQL too.

    .venv/bin/python bench/audit_bench.py [--events 1000000] [--single 3000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import postgres_settings, rate_row
from keel import audit
from keel.audit import checkpoints
from keel.audit import log as audit_log
from keel.config import DB_FILE, Settings
from keel.identity import user_actor
from keel.workspace import init_workspace


def disk_ceiling(folder: Path, commits: int = 2000) -> float:
    """Durable commits/s of one small row through bare sqlite3 (WAL, synchronous=FULL): what
    this disk allows one-by-one appends before any Keel code runs."""
    db = sqlite3.connect(folder / "ceiling.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    start = time.perf_counter()
    for _ in range(commits):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (body) VALUES (?)", (b"x" * 300,))
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return commits / seconds


def bench(name: str, settings: Settings, events: int, single: int) -> None:
    print(f"\n{name}")
    actor = user_actor("user:bench", "local")
    ws, _ = init_workspace(settings, actor)
    details = {
        "kind": "Model",
        "name": "m",
        "before": "sha256:" + "0" * 64,
        "after": "sha256:" + "1" * 64,
    }
    try:
        batch = [audit.Change("bench.event", "model:default/m", details)] * 1000
        start = time.perf_counter()
        for _ in range(events // 1000):
            with ws.write(actor) as session:
                audit.append(session, actor, batch)
        seconds = time.perf_counter() - start
        rate_row(
            f"append {events:,} in batches of 1,000", events / seconds, "events/s", 50_000, True
        )

        start = time.perf_counter()
        for _ in range(single):
            with ws.write(actor) as session:
                audit.append(session, actor, batch[:1])
        seconds = time.perf_counter() - start
        rate_row(
            f"append {single:,} one by one, each committed",
            single / seconds,
            "events/s",
            2_000,
            True,
        )
        if settings.embedded:
            print(
                f"  {'(bare sqlite3 fsync-ed commits, this disk now)':44} "
                f"{disk_ceiling(settings.home):12,.1f} commits/s"
            )

        with ws.write(actor) as session:
            checkpoints.checkpoint(session, ws.signer())
        pinned = ws.signer().public_key  # as `keel audit verify` does
        with ws.read() as session:
            start = time.perf_counter()
            result = audit_log.verify(session, ws.name, pinned=pinned)
            seconds = time.perf_counter() - start
        assert result.ok, result.problems
        rate_row(f"audit verify of {result.events:,} events", seconds, "s", 10, False)

        size = result.events
        times = []
        with ws.read() as session:
            for seq in random.Random(3).sample(range(1, size + 1), 200):
                start = time.perf_counter()
                audit_log.inclusion(session, seq)
                times.append(time.perf_counter() - start)
        rate_row(
            f"inclusion proof at {size:,} (median of 200)",
            statistics.median(times) * 1000,
            "ms",
            1,
            False,
        )
        rate_row("inclusion proof, p95", sorted(times)[189] * 1000, "ms", 1, False)
    finally:
        ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=3_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Settings(
            home=Path(tmp) / "s", database_url=f"sqlite:///{Path(tmp) / 's' / DB_FILE}"
        )
        bench("SQLite (embedded default)", sqlite, args.events, args.single)
        if args.no_postgres:
            return 0
        with postgres_settings(Path(tmp) / "p") as pg:
            if pg is not None:
                bench("PostgreSQL (scale-out)", pg, args.events, args.single)
    return 0


if __name__ == "__main__":
    sys.exit(main())
