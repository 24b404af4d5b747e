"""Running what packages declared: every due job slot once, and each reconciler's passes.

`JOB_MODULES` is the one list of the packages' `jobs` modules; `load()` imports them and checks
every declaration (a bad cron expression or time zone refuses the worker with one line
naming the job). Then:

- a job is due when the newest slot of its schedule at `now` is newer than the last slot it
  handled (`worker_jobs.last_slot`), so after downtime it runs once, for the newest slot;
- `run_job` runs one slot in one write transaction as `WORKER`: the job writes through
  `ctx.session`, and its slot record (`worker_runs`, keyed by job and slot) and state commit
  with those writes, or nothing does. A worker killed mid-slot leaves no trace of it, and
  the next worker runs the slot again; a slot that completed is never run again. A job that
  raises fails its slot: what it wrote rolls back (unless it raised `JobFailed`), and the
  failure is recorded with a `worker.job.failed` event;
- a reconciler runs one pass every `every` seconds, in a transaction of its own (or, declared
  with `own_transactions`, in the transactions it opens, its record written after); its
  first failure after a success appends `worker.job.failed` (a failing loop does not flood
  the log).
"""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel import audit
from keel.clock import stamp
from keel.errors import UsageError
from keel.identity import Actor
from keel.worker import cron, registry
from keel.worker.leader import Leadership
from keel.worker.registry import Job, JobContext, JobFailed, Reconciler
from keel.worker.tables import JobRunRow, JobStateRow

JOB_MODULES = [
    "keel.audit.jobs",
    "keel.auth.jobs",
    "keel.gateway.jobs",
    "keel.incidents.jobs",
    "keel.notifications.jobs",
    "keel.readiness.jobs",
]
WORKER = Actor("user:keel/worker", "system")
FAILED = "worker.job.failed"
MAX_TEXT = 500
IDLE = 5.0  # the longest the loop sleeps, so a resumed job is picked up soon


@dataclass(frozen=True)
class Planned:
    job: Job
    schedule: cron.Schedule


@dataclass(frozen=True)
class Plan:
    jobs: list[Planned]
    reconcilers: list[Reconciler]

    def names(self) -> list[str]:
        return sorted([p.job.name for p in self.jobs] + [r.name for r in self.reconcilers])


@dataclass(frozen=True)
class Outcome:
    name: str
    kind: str  # job | reconciler
    result: str  # ok | failed
    slot: str | None
    summary: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.result == "failed"

    def line(self) -> str:
        where = f" slot {self.slot}" if self.slot else ""
        text = self.error if self.failed else self.summary
        return f"{self.name}{where}: {self.result}" + (f": {text}" if text else "")

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def load(modules: list[str] | None = None) -> Plan:
    """Import every package's jobs and check them; UsageError names the first bad one."""
    for name in JOB_MODULES if modules is None else modules:
        importlib.import_module(name)
    planned = []
    for job in registry.jobs():
        try:
            planned.append(Planned(job, cron.parse(job.cron, job.timezone)))
        except ValueError as exc:
            raise UsageError(f"job {job.name} ({job.package}): {exc}") from None
    return Plan(planned, registry.reconcilers())


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:MAX_TEXT]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def state_of(session: Session, name: str) -> JobStateRow:
    """The stored state of a job or reconciler, made when first needed."""
    row = session.get(JobStateRow, name)
    if row is None:
        row = JobStateRow(name=name, paused=False, runs=0, failures=0, failing=0)
        session.add(row)
        session.flush()
    return row


def states(session: Session) -> dict[str, JobStateRow]:
    return {r.name: r for r in session.scalars(select(JobStateRow))}


def due(plan: Plan, found: dict[str, JobStateRow], now: datetime) -> list[tuple[Planned, str]]:
    """The jobs due at `now` and the slot each runs for (its newest, however many were missed)."""
    out = []
    for planned in plan.jobs:
        state = found.get(planned.job.name)
        if state is not None and state.paused:
            continue
        slot = stamp(planned.schedule.previous(now))
        if state is None or state.last_slot is None or slot > state.last_slot:
            out.append((planned, slot))
    return out


def run_job(ws, planned: Planned, slot: str, now: datetime) -> Outcome | None:
    """Run one slot; None when it is not to run (paused, or handled by another worker)."""
    job = planned.job
    started = stamp(now)
    slot_time = datetime.fromisoformat(slot.replace("Z", "+00:00"))
    kept: JobFailed | None = None
    try:
        with ws.write(WORKER) as session:
            state = state_of(session, job.name)
            if state.paused or (state.last_slot and state.last_slot >= slot):
                return None
            try:
                summary = job.run(JobContext(ws, session, WORKER, now, slot_time))
            except JobFailed as exc:  # a failure whose writes are kept
                kept = exc
                summary = None
            if kept is None:
                _finish(session, job.name, state, slot, started, "ok", summary, None)
                return Outcome(job.name, "job", "ok", slot, _text(summary))
            _fail(session, job.name, state, slot, started, one_line(kept))
        return Outcome(job.name, "job", "failed", slot, error=one_line(kept))
    except Exception as exc:
        error = one_line(exc)
    with ws.write(WORKER) as session:  # the job's writes rolled back: record its failure alone
        state = state_of(session, job.name)
        if state.last_slot and state.last_slot >= slot:
            return None
        _fail(session, job.name, state, slot, started, error)
    return Outcome(job.name, "job", "failed", slot, error=error)


def _finish(session, name, state, slot, started, result, summary, error) -> None:
    now = stamp()
    session.add(
        JobRunRow(
            job=name,
            slot=slot,
            started_at=started,
            finished_at=now,
            result=result,
            summary=_text(summary),
            error=error,
            worker=worker_id(),
        )
    )
    session.flush()  # the primary key refuses a second record of the slot here
    state.last_slot = slot
    _record(state, started, result, summary, error)


def _fail(session, name, state, slot, started, error) -> None:
    _finish(session, name, state, slot, started, "failed", None, error)
    audit.append(
        session,
        WORKER,
        [audit.Change(FAILED, f"job:{name}", {"job": name, "slot": slot, "error": error})],
    )


def _record(state: JobStateRow, at: str, result: str, summary, error) -> None:
    state.last_run_at = at
    state.last_result = result
    state.last_summary = _text(summary)
    state.last_error = error
    state.runs += 1
    if result == "ok":
        state.failing = 0
        state.last_success_at = at
    else:
        state.failures += 1
        state.failing += 1


def _text(summary) -> str | None:
    return None if summary is None else str(summary).strip().splitlines()[0][:MAX_TEXT] or None


def run_reconciler(ws, rec: Reconciler, now: datetime) -> Outcome | None:
    """One pass; None when it is paused."""
    at = stamp(now)
    try:
        if rec.own_transactions:  # the pass writes on its own; its record is written after
            with ws.read() as session:
                row = session.get(JobStateRow, rec.name)
                if row is not None and row.paused:
                    return None
            summary = rec.run(JobContext(ws, None, WORKER, now, None))
            with ws.write(WORKER) as session:
                _record(state_of(session, rec.name), at, "ok", summary, None)
        else:
            with ws.write(WORKER) as session:
                state = state_of(session, rec.name)
                if state.paused:
                    return None
                summary = rec.run(JobContext(ws, session, WORKER, now, None))
                _record(state, at, "ok", summary, None)
        return Outcome(rec.name, "reconciler", "ok", None, _text(summary))
    except Exception as exc:
        error = one_line(exc)
    with ws.write(WORKER) as session:
        state = state_of(session, rec.name)
        _record(state, at, "failed", None, error)
        if state.failing == 1:  # the first failure of a run of them
            details = {"job": rec.name, "slot": None, "error": error}
            audit.append(session, WORKER, [audit.Change(FAILED, f"job:{rec.name}", details)])
    return Outcome(rec.name, "reconciler", "failed", None, error=error)


def once(ws, plan: Plan, now: datetime) -> list[Outcome]:
    """One pass of every reconciler, then every job slot due at `now`."""
    outcomes = [run_reconciler(ws, rec, now) for rec in plan.reconcilers]
    with ws.read() as session:
        found = states(session)
    outcomes += [run_job(ws, planned, slot, now) for planned, slot in due(plan, found, now)]
    return [o for o in outcomes if o is not None]


def serve(
    ws,
    plan: Plan,
    stop: threading.Event,
    say: Callable[[str], None],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Lead and run until `stop` is set (SIGTERM, SIGINT), waiting while another worker leads."""
    leadership = Leadership(ws.engine, ws.settings.home, ws.name)
    if not leadership.acquire(wait=True, stop=stop, say=say):
        return
    say(f"leading: {len(plan.jobs)} jobs, {len(plan.reconcilers)} reconcilers ({worker_id()})")
    passed: dict[str, float] = {}
    try:
        while not stop.is_set():
            if not leadership.held():
                say("lost the leader lock; waiting to lead again")
                if not leadership.acquire(wait=True, stop=stop):
                    break
                say("leading again")
            try:
                wait = _tick(ws, plan, passed, clock(), say)
            except Exception as exc:  # the store is away: say so, and try again soon
                say(f"error: {one_line(exc)}")
                wait = IDLE
            stop.wait(wait)
    finally:
        leadership.release()


def _tick(ws, plan: Plan, passed: dict[str, float], now: datetime, say) -> float:
    tick = time.monotonic()
    for rec in plan.reconcilers:
        if tick - passed.get(rec.name, float("-inf")) >= rec.every:
            passed[rec.name] = tick
            outcome = run_reconciler(ws, rec, now)
            if outcome is not None and (outcome.failed or outcome.summary):
                say(outcome.line())
    with ws.read() as session:
        found = states(session)
    for planned, slot in due(plan, found, now):
        outcome = run_job(ws, planned, slot, now)
        if outcome is not None:
            say(outcome.line())
    later = [passed[r.name] + r.every - time.monotonic() for r in plan.reconcilers]
    later += [(p.schedule.following(now) - now).total_seconds() for p in plan.jobs]
    return max(0.05, min([IDLE, *later]))
