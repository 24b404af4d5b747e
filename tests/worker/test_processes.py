"""The worker as people run it, as real processes: one leader (refused on SQLite, taken
over on PostgreSQL after a SIGKILL), exactly-once slots under SIGKILL in a loop, and the
command line's answers to bad input."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from keel.cli.main import run as keel
from keel.worker import registry
from keel.workspace import open_workspace
from tests.conftest import REPO
from tests.worker.helpers import SLOW_ACTION as ACTION
from tests.worker.helpers import env_for, events, runs

# the real command, with the slow job declared too (imported only in the child)
WITH_SLOW = "import tests.worker.slowjobs; from keel.cli.main import main; main()"


def keel_process(settings, *args: str, code: str = "from keel.cli.main import main; main()"):
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env_for(settings),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(process, needle: str, timeout: float = 60) -> str:
    """Read the process's output until a line holds `needle`; returns that line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if needle in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {needle!r} from the worker: {process.stderr.read()[-800:]}")


def stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)


def test_sigkill_in_a_loop_never_completes_a_slot_twice(ws, settings):
    rng = random.Random(16)
    base = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    kills = 0
    for minute in range(4):
        moment = base + timedelta(minutes=minute)
        at = moment.isoformat()
        while True:  # until one run of this slot's worker ends by itself
            child = keel_process(
                settings, "worker", "--once", "--at", at, "--format", "json", code=WITH_SLOW
            )
            started = child.stderr.readline()  # the slot's transaction is open
            if (
                "slot started" in started and rng.random() < 0.75
            ):  # most runs are killed: before, during or after the writes
                time.sleep(rng.uniform(0, 0.7))
                if child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                    kills += 1
            out, err = child.communicate(timeout=60)
            assert child.returncode in (0, -signal.SIGKILL), err[-800:]
            slot = f"{at[:16]}:00Z"
            written = [e for e in events(ws, ACTION) if e.details["slot"] == str(moment)]
            recorded = [r for r in runs(ws, "tests.slow") if r.slot == slot]
            assert len(written) == len(recorded) <= 1  # the writes and the record, together
            if child.returncode == 0:
                ran = [o for o in json.loads(out) if o["name"] == "tests.slow"]
                assert len(written) == 1 and len(ran) <= 1
                break
        again = keel_process(
            settings, "worker", "--once", "--at", at, "--format", "json", code=WITH_SLOW
        )
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
        assert "tests.slow" not in {o["name"] for o in json.loads(out)}  # a done slot stays done
    assert kills >= 2
    assert len(events(ws, ACTION)) == 4 and len(runs(ws, "tests.slow")) == 4
    fresh = open_workspace(settings)
    try:
        assert keel_verify(settings) == 0
    finally:
        fresh.close()


def keel_verify(settings) -> int:
    process = keel_process(settings, "audit", "verify")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    return process.returncode


def test_on_sqlite_a_second_worker_is_refused_in_one_line(sqlite_ws):
    settings = sqlite_ws.settings
    first = keel_process(settings, "worker")
    try:
        wait_for(first, "leading:")
        for args in (["worker"], ["worker", "--once"]):
            second = keel_process(settings, *args)
            out, err = second.communicate(timeout=60)
            assert second.returncode == 1, out + err
            assert err.count("\n") == 1 and f"another keel worker (pid {first.pid})" in err
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=30)
        assert first.returncode == 0 and "stopped" in out
        after = keel_process(settings, "worker", "--once")
        out, err = after.communicate(timeout=60)
        assert after.returncode == 0, out + err
    finally:
        stop(first)


@pytest.mark.postgres
def test_on_postgresql_a_second_worker_waits_and_takes_over_after_a_sigkill(
    pg_schema_url, tmp_path, admin
):
    from keel.config import Settings
    from keel.workspace import init_workspace

    settings = Settings(home=tmp_path / "ws", database_url=pg_schema_url)
    init_workspace(settings, admin)[0].close()
    first = keel_process(settings, "worker")
    second = None
    try:
        wait_for(first, "leading:")
        second = keel_process(settings, "worker")
        wait_for(second, "waiting to take over")
        once = keel_process(settings, "worker", "--once")
        _, err = once.communicate(timeout=60)
        assert once.returncode == 1 and err.count("\n") == 1 and "leader lock" in err
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait_for(second, "leading:", timeout=30)
        assert time.monotonic() - killed < 10  # within seconds
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
        assert second.returncode == 0
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_bad_input_gets_one_line_and_exit_2(sqlite_ws, monkeypatch, capsys):
    monkeypatch.setenv("KEEL_HOME", str(sqlite_ws.settings.home))
    for args, says in (
        (
            ["worker", "--once", "--at", "next tuesday"],
            "--at 'next tuesday' is not an ISO 8601 time",
        ),
        (["worker", "--at", "2026-12-03T10:00"], "--at goes with --once"),
        (["schedule", "show", "nothing.here"], "no job 'nothing.here'"),
        (["schedule", "pause", "nothing.here"], "no job 'nothing.here'"),
    ):
        assert keel(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err


def test_an_invalid_declaration_refuses_to_start_naming_the_job(sqlite_ws, monkeypatch, capsys):
    monkeypatch.setenv("KEEL_HOME", str(sqlite_ws.settings.home))
    registry.job("tests.nightly", cron="0 3 * *", description="d")(lambda ctx: None)
    try:
        assert keel(["worker", "--once"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(
            "error: job tests.nightly (tests.worker.test_processes): cron"
        )
    finally:
        registry._JOBS.pop("tests.nightly")
    assert runs(sqlite_ws, "audit.verify") == []  # nothing ran


def test_schedule_and_status_list_every_job_and_pausing_is_stored(sqlite_ws, monkeypatch, capsys):
    monkeypatch.setenv("KEEL_HOME", str(sqlite_ws.settings.home))
    assert keel(["worker", "--once", "--format", "json"]) == 0
    ran = {o["name"] for o in json.loads(capsys.readouterr().out)}
    assert {"audit.checkpoint", "audit.verify", "auth.token_expiry", "gateway.key_expiry"} <= ran
    assert keel(["schedule", "pause", "audit.verify", "--as", "user:alice"]) == 0
    capsys.readouterr()
    assert keel(["schedule", "list", "--format", "json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["audit.verify"]["paused"] is True and listed["audit.verify"]["next_run"] is None
    assert (
        listed["auth.token_expiry"]["cron"] == "0 * * * *"
        and listed["auth.token_expiry"]["timezone"] == "UTC"
    )
    assert (
        listed["auth.token_expiry"]["last_result"] == "ok"
        and listed["auth.token_expiry"]["next_run"]
    )
    assert (
        listed["audit.checkpoint"]["kind"] == "reconciler"
        and listed["audit.checkpoint"]["every"] == 15
    )
    assert keel(["schedule", "pause", "audit.verify"]) == 2  # already paused
    assert "already paused" in capsys.readouterr().err
    assert keel(["worker", "status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["leader"] is False and {j["name"] for j in status["jobs"]} == set(listed)
    assert keel(["schedule", "resume", "audit.verify"]) == 0
    assert keel(["schedule", "show", "audit.verify", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert shown["paused"] is False and shown["recent"][0]["result"] == "ok"
    (paused,) = events(sqlite_ws, "worker.job.paused")
    assert paused.subject == "job:audit.verify" and paused.actor["id"] == "user:default/alice"
