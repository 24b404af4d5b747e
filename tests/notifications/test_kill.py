"""kill -9 in the middle of a delivery loses no notification (at least once), and every
attempt for one event to one subscription carries the same `webhook-id`: real processes,
real signals, on both stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keel.notifications import deliveries
from tests.notifications.conftest import SECRET, deliver, emit, subscribe

KEEL = Path(sys.executable).parent / "keel"
# the worker's way: one pass of the reconciler as `keel worker` runs it
RECONCILER_PASS = """
from datetime import UTC, datetime
from keel.config import load_settings
from keel.worker import runner
from keel.workspace import open_workspace

ws = open_workspace(load_settings())
(rec,) = [r for r in runner.load().reconcilers if r.name == "notifications.deliver"]
print(runner.run_reconciler(ws, rec, datetime.now(UTC)), flush=True)
ws.close()
"""


def _env(ws) -> dict[str, str]:
    return {
        **os.environ,
        "KEEL_HOME": str(ws.settings.home),
        "KEEL_DATABASE_URL": ws.settings.database_url,
        "HOOK_SECRET": SECRET,
    }


@pytest.mark.parametrize(
    "command",
    [[str(KEEL), "notify", "deliver", "--once"], [sys.executable, "-c", RECONCILER_PASS]],
    ids=["deliver-once", "reconciler"],
)
def test_kill_9_mid_delivery_loses_nothing(ws, admin, receiver, command, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    subscribe(ws, admin, event="job-failed", webhook=receiver.url, secret_ref="env:HOOK_SECRET")
    seqs = [emit(ws, admin, "worker.job.failed", f"job:{n}").seq for n in range(4)]
    for round_ in range(2):  # killed twice, each time while the receiver holds a request
        receiver.arrived.clear()
        receiver.script = [60.0]  # the next request hangs until the process is gone
        child = subprocess.Popen(command, env=_env(ws), stdout=subprocess.DEVNULL)
        try:
            assert receiver.arrived.wait(60), f"round {round_}: no request arrived"
            child.send_signal(signal.SIGKILL)
            assert child.wait(30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
    receiver.script = []
    done = deliver(ws)
    assert done.attempted >= 1
    with ws.read() as session:
        rows = deliveries(session)
    assert sorted(r.event_seq for r in rows) == seqs
    assert {r.status for r in rows} == {"delivered"}
    by_seq: dict[int, set[str]] = {}
    for got in receiver.received:
        by_seq.setdefault(json.loads(got.body)["data"]["seq"], set()).add(got.headers["webhook-id"])
    assert sorted(by_seq) == seqs  # every event reached the receiver
    assert all(len(ids) == 1 for ids in by_seq.values()), by_seq  # under one id each
    assert {r.id for r in rows} == set().union(*by_seq.values())
