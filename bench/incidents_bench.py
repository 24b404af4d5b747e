"""Incidents speed on a traffic log of 100,000 request events (SQLite).

Printed, each beside its baseline run in the same process on the same store:
  - an incident's timeline (governance events + per-minute figures + anomalies) against
    reading the raw request events of its endpoint alone (`list_events(subject=endpoint)`):
    the ratio is what aggregating and the other sources add (>1 means slower than the read);
  - one `incidents.detect` pass that finds one new anomaly at the log's end (it walks back
    from the anomaly to its bucket by seq) against a full read of the traffic log, what a
    reader without the seq bounds would do (<1 means faster than the full read).

    .venv/bin/python bench/incidents_bench.py [--requests 100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from keel.audit import Change, append, list_events
from keel.catalog import service as catalog
from keel.config import DB_FILE, Settings
from keel.gateway.traffic import GATEWAY, RequestEvent
from keel.identity import SYSTEM, user_actor
from keel.incidents import detect, service, timeline
from keel.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]
EP = "api:default/support-chat-api"
ANA = user_actor("ana.lima", "local")
BATCH = 5000


def best(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp()) / "ws"
    settings = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
    ws, _ = init_workspace(settings, ANA)
    with ws.write(ANA) as session:
        catalog.apply(session, ANA, catalog.load([REPO / "examples/demo/catalog"]).entities)
        service.open_incident(session, ANA, systems=["support-assistant"], severity=2, title="T")
    for start in range(0, args.requests, BATCH):
        with ws.write(GATEWAY) as session:
            changes = [
                Change(
                    timeline.REQUEST,
                    EP,
                    RequestEvent(
                        f"r{i}",
                        "chat",
                        f"gk_{i % 7}",
                        "c",
                        EP,
                        "production",
                        None,
                        200 if i % 10 else 502,
                        "allowed" if i % 10 else "upstream_error",
                        3.0,
                    ).details(),
                )
                for i in range(start, min(start + BATCH, args.requests))
            ]
            append(session, GATEWAY, changes, log="traffic")
    with ws.write(SYSTEM) as session:
        detect.detect(session, SYSTEM)  # the cursors now sit at the heads
        details = {"kind": "error_spike", "key": "gk_3", "consumer": "c", "bucket_s": 10.0}
        details |= {"requests": 40, "errors": 12}  # the key's bucket, as the detector counts
        append(session, GATEWAY, [Change(timeline.ANOMALY, "consumer:c", details)], log="traffic")

    with ws.read() as session:
        found = service.get_incident(session, "INC-1")
        start, _ = timeline.window(found)
        read = best(lambda: list_events(session, log="traffic", subject=EP, since=start))
        built = best(lambda: timeline.timeline(session, found))
        entries = timeline.timeline(session, found)
        full = best(lambda: list_events(session, log="traffic"), rounds=1)

    class Undo(Exception):
        """Leaves the pass uncommitted, so every round runs the same pass."""

    def one_pass() -> None:
        try:
            with ws.write(SYSTEM) as session:
                assert detect.detect(session, SYSTEM).opened == ["INC-2"]
                raise Undo
        except Undo:
            pass

    passed = best(one_pass)
    minutes = sum(1 for e in entries if e.kind == "minute")
    print(f"traffic log: {args.requests} request events; timeline: {len(entries)} entries")
    print(f"  ({minutes} per-minute entries)")
    print(f"timeline            {built * 1000:8.1f} ms")
    print(f"  baseline: read the endpoint's request events {read * 1000:8.1f} ms")
    print(f"  ratio {built / read:.2f}")
    print(f"detect pass (1 anomaly) {passed * 1000:8.1f} ms")
    print(f"  baseline: read the whole traffic log {full * 1000:8.1f} ms")
    print(f"  ratio {passed / full:.3f}")
    ws.close()


if __name__ == "__main__":
    main()
