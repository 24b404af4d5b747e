"""Notification speed: fanning the log out, and delivering, each beside its floor.

Printed on SQLite, and on PostgreSQL when it is reachable:
  - fan-out of N governance events to S subscriptions (a tenth of them match each event),
    beside the baseline of only reading the same events after a cursor (`audit.events.after`):
    the ratio says what matching and inserting the delivery rows cost on top of reading;
  - delivery of D webhooks to a local receiver through `keel notify deliver`'s pass (sign,
    POST, record each attempt in its own transaction), beside the baseline of the same POSTs
    made bare with urllib in the same process: the ratio is Keel's cost per delivery.

    .venv/bin/python bench/notifications_bench.py [--events 20000] [--subs 20] [--deliveries 300]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchlib import postgres_settings, time_row
from keel import audit
from keel.audit.events import after
from keel.config import DB_FILE, Settings
from keel.identity import SYSTEM, user_actor
from keel.notifications import run_pass, subscribe
from keel.notifications.deliver import fan_out
from keel.notifications.targets import control_plane
from keel.workspace import init_workspace

SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()
ACTIONS = ["worker.job.failed", "pipeline.promotion.refused", "incidents.incident.opened"]
ACTIONS += [f"catalog.entity.{v}" for v in ("created", "updated")] * 3  # most match nothing


class Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def bench(settings: Settings, events: int, subs: int, count: int, url: str) -> None:
    admin = user_actor("user:bench", "local")
    ws, _ = init_workspace(settings, admin)
    own = control_plane()
    os.environ["BENCH_HOOK_SECRET"] = SECRET
    try:
        with ws.write(admin) as session:
            for n in range(subs):  # one in ten of each kind matches; the rest filter subjects
                subscribe(
                    session,
                    admin,
                    event=["job-failed", "promotion-refused", "incident"][n % 3],
                    subject=None if n < 2 else f"system:default/s{n}",
                    webhook=url,
                    secret_ref="env:BENCH_HOOK_SECRET",
                    own=own,
                )
        start_seq = 0
        with ws.read() as session:
            start_seq = audit.head(session)
        for chunk in range(0, events, 1000):
            with ws.write(admin) as session:
                audit.append(
                    session,
                    admin,
                    [
                        audit.Change(
                            ACTIONS[i % len(ACTIONS)], f"system:default/s{i % 50}", {"i": i}
                        )
                        for i in range(chunk, min(events, chunk + 1000))
                    ],
                )
        began = time.perf_counter()
        with ws.read() as session:
            seq, read = start_seq, 0
            while batch := after(session, seq, limit=1000):
                seq, read = batch[-1].seq, read + len(batch)
        baseline = time.perf_counter() - began
        began = time.perf_counter()
        made = 0
        while True:
            with ws.write(SYSTEM) as session:
                added = fan_out(session)
                made += added
                done = session.get(
                    __import__("keel.notifications.tables", fromlist=["CursorRow"]).CursorRow,
                    audit.GOVERNANCE,
                ).seq >= audit.head(session)
            if done:
                break
        fanned = time.perf_counter() - began
        time_row(f"read {read:,} events after a cursor (baseline)", baseline)
        time_row(
            f"fan out {read:,} events to {subs} subs ({made:,} deliveries)",
            fanned,
            note=f"{fanned / baseline:.1f}x the read",
        )
        # delivering: cancel all but `count` pending deliveries, then one pass
        from sqlalchemy import select, update

        from keel.notifications.tables import DeliveryRow

        with ws.write(SYSTEM) as session:
            keep = (
                session.execute(select(DeliveryRow.id).order_by(DeliveryRow.event_seq).limit(count))
                .scalars()
                .all()
            )
            session.execute(
                update(DeliveryRow).where(DeliveryRow.id.not_in(keep)).values(status="cancelled")
            )
        from keel.notifications import Policy

        began = time.perf_counter()
        result = run_pass(
            lambda: ws.write(SYSTEM),
            SYSTEM,
            own=own,
            policy=Policy(per_pass=count),
            now=datetime.now(UTC),
        )
        sent = time.perf_counter() - began
        body = b'{"type":"x","data":{"seq":1,"details":{"i":1}}}' * 4
        began = time.perf_counter()
        for _ in range(result.attempted):
            request = urllib.request.Request(
                url, data=body, method="POST", headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        bare = time.perf_counter() - began
        n = max(result.attempted, 1)
        time_row(f"{n} bare POSTs, per POST (baseline)", bare / n)
        time_row(
            f"{result.delivered} deliveries (sign, POST, record), per delivery",
            sent / n,
            note=f"{sent / bare:.1f}x a bare POST",
        )
    finally:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subs", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "sqlite"
        print("SQLite")
        bench(
            Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}"),
            args.events,
            args.subs,
            args.deliveries,
            url,
        )
        if not args.no_postgres:
            with postgres_settings(Path(tmp) / "pg") as pg:
                if pg is not None:
                    print("PostgreSQL")
                    bench(pg, args.events, args.subs, args.deliveries, url)
    server.shutdown()


if __name__ == "__main__":
    main()
