"""Running job slots: once per slot, one transaction with the job's writes, failures recorded,
missed slots run once, pauses kept; on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keel import audit
from keel.errors import UsageError
from keel.identity import user_actor
from keel.worker import registry, runner, schedule
from keel.worker.registry import JobFailed, Reconciler
from tests.worker.helpers import events, job, plan, runs

T0 = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)


def writes(action: str):
    """A job that appends one event through ctx.session, naming its slot."""

    def run(ctx):
        audit.append(
            ctx.session, ctx.actor, [audit.Change(action, "job:tests", {"slot": str(ctx.slot)})]
        )
        return f"wrote {ctx.slot:%H:%M}"

    return run


def test_a_due_slot_runs_once_with_its_record_in_the_same_transaction(ws):
    p = plan(job("tests.hourly", writes("tests.slot.ran")))
    first = runner.once(ws, p, T0)
    assert [(o.name, o.result, o.slot) for o in first] == [
        ("tests.hourly", "ok", "2026-12-03T10:00:00Z")
    ]
    assert first[0].summary == "wrote 10:00"
    assert runner.once(ws, p, T0 + timedelta(minutes=20)) == []  # the same slot: done
    (record,) = runs(ws, "tests.hourly")
    assert (record.slot, record.result) == ("2026-12-03T10:00:00Z", "ok")
    (event,) = events(ws, "tests.slot.ran")
    assert event.actor == {"id": "user:keel/worker", "via": "system"}


def test_after_downtime_a_missed_slot_runs_once_not_once_per_slot(ws):
    p = plan(job("tests.hourly", writes("tests.slot.ran")))
    runner.once(ws, p, T0)
    later = runner.once(ws, p, T0 + timedelta(hours=7))  # 7 slots missed
    assert [o.slot for o in later] == ["2026-12-03T17:00:00Z"]
    assert [r.slot for r in runs(ws, "tests.hourly")] == [
        "2026-12-03T10:00:00Z",
        "2026-12-03T17:00:00Z",
    ]
    assert len(events(ws, "tests.slot.ran")) == 2


def test_a_failing_job_rolls_back_records_its_failure_and_appends_an_event(ws):
    def broken(ctx):
        writes("tests.slot.ran")(ctx)
        raise RuntimeError("the upstream said no\nand a second line")

    p = plan(job("tests.broken", broken))
    (outcome,) = runner.once(ws, p, T0)
    assert (outcome.result, outcome.error) == ("failed", "the upstream said no")
    assert events(ws, "tests.slot.ran") == []  # its writes rolled back
    (failed,) = events(ws, runner.FAILED)
    assert failed.subject == "job:tests.broken"
    assert failed.details == {
        "job": "tests.broken",
        "slot": "2026-12-03T10:00:00Z",
        "error": "the upstream said no",
    }
    (record,) = runs(ws, "tests.broken")
    assert (record.result, record.error) == ("failed", "the upstream said no")
    assert runner.once(ws, p, T0) == []  # a failed slot is not retried; the next slot is
    assert [o.result for o in runner.once(ws, p, T0 + timedelta(hours=1))] == ["failed"]
    with ws.read() as session:
        state = runner.states(session)["tests.broken"]
    assert (state.runs, state.failures, state.last_result) == (2, 2, "failed")


def test_job_failed_keeps_what_the_job_wrote(ws):
    def finds_a_problem(ctx):
        writes("tests.problem.found")(ctx)
        raise JobFailed("found a problem")

    (outcome,) = runner.once(ws, plan(job("tests.finder", finds_a_problem)), T0)
    assert (outcome.result, outcome.error) == ("failed", "found a problem")
    assert len(events(ws, "tests.problem.found")) == 1
    assert [e.details["error"] for e in events(ws, runner.FAILED)] == ["found a problem"]


def test_a_paused_job_does_not_run_and_resumed_runs_its_newest_slot_once(ws):
    p = plan(job("tests.hourly", writes("tests.slot.ran")))
    alice = user_actor("alice", "local")
    with ws.write(alice) as session:
        schedule.set_paused(session, alice, p, "tests.hourly", True)
    assert runner.once(ws, p, T0) == []
    with ws.write(alice) as session, pytest.raises(UsageError, match="already paused"):
        schedule.set_paused(session, alice, p, "tests.hourly", True)
    with ws.write(alice) as session:
        schedule.set_paused(session, alice, p, "tests.hourly", False)
    assert [o.slot for o in runner.once(ws, p, T0 + timedelta(hours=3))] == ["2026-12-03T13:00:00Z"]
    assert [
        e.action for e in events(ws, "worker.job.paused") + events(ws, "worker.job.resumed")
    ] == [
        "worker.job.paused",
        "worker.job.resumed",
    ]
    with ws.write(alice) as session, pytest.raises(UsageError, match=r"no job 'tests\.nothing'"):
        schedule.set_paused(session, alice, p, "tests.nothing", True)


def test_a_failing_reconciler_appends_one_event_per_run_of_failures(ws):
    calls = []

    def flaky(ctx):
        calls.append(ctx.now)
        if len(calls) in (1, 2, 3, 5):
            raise ValueError(f"pass {len(calls)} failed")
        return None

    p = plan(reconcilers=(Reconciler("tests.loop", 1.0, "d", flaky, "tests"),))
    results = [runner.once(ws, p, T0)[0].result for _ in range(5)]
    assert results == ["failed", "failed", "failed", "ok", "failed"]
    assert [e.details["error"] for e in events(ws, runner.FAILED)] == [
        "pass 1 failed",
        "pass 5 failed",
    ]
    assert runs(ws, "tests.loop") == []  # passes keep state, not slot records


def test_a_bad_declaration_refuses_to_load_naming_the_job():
    registry.job("tests.badcron", cron="61 * * * *", description="d")(lambda ctx: None)
    try:
        with pytest.raises(
            UsageError, match=r"^job tests.badcron \(tests.worker.test_runner\): cron"
        ):
            runner.load([])
    finally:
        registry._JOBS.pop("tests.badcron")
    registry.job("tests.badzone", cron="* * * * *", timezone="Europe/Atlantis", description="d")(
        lambda ctx: None
    )
    try:
        with pytest.raises(UsageError, match=r"tests\.badzone.*'Europe/Atlantis' is not an IANA"):
            runner.load([])
    finally:
        registry._JOBS.pop("tests.badzone")


def test_the_status_lists_every_job_with_next_run_and_failures(ws):
    p = plan(job("tests.daily", writes("tests.slot.ran"), "0 3 * * *", "Europe/Lisbon"))
    runner.once(ws, p, T0)
    with ws.read() as session:
        (entry,) = schedule.describe(session, p, T0)
    assert entry["cron"] == "0 3 * * *" and entry["timezone"] == "Europe/Lisbon"
    assert entry["last_slot"] == "2026-12-03T03:00:00Z" and entry["last_result"] == "ok"
    assert entry["next_run"] == "2026-12-04T03:00:00Z" and entry["due"] is False
