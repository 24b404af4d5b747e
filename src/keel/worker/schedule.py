"""What `keel schedule` and `keel worker status` show and change: every declared job and
reconciler with its schedule, next run, last result and failures; pausing and resuming.

Pausing is stored state (`worker_jobs.paused`) and an event (`worker.job.paused`, `worker.job.
resumed`, subject `job:<name>`), so a worker started later, or another host's worker, keeps
it. A resumed job runs its newest missed slot once, as after downtime.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel import audit
from keel.clock import stamp
from keel.errors import ConflictError, NotFoundError
from keel.identity import Actor
from keel.worker.runner import Plan, state_of, states
from keel.worker.tables import JobRunRow, JobStateRow

RECENT = 10


def describe(session: Session, plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """One entry per declared job and reconciler, by name."""
    found = states(session)
    out = []
    for planned in plan.jobs:
        job, state = planned.job, found.get(planned.job.name)
        entry = _common(job.name, "job", job.package, job.description, state)
        entry.update(
            cron=job.cron,
            timezone=job.timezone,
            last_slot=state.last_slot if state else None,
            next_run=None if entry["paused"] else _next(planned, state, now),
            due=bool(
                not entry["paused"]
                and (
                    state is None
                    or state.last_slot is None
                    or stamp(planned.schedule.previous(now)) > state.last_slot
                )
            ),
        )
        out.append(entry)
    for rec in plan.reconcilers:
        entry = _common(rec.name, "reconciler", rec.package, rec.description, found.get(rec.name))
        entry.update(every=rec.every)
        out.append(entry)
    return sorted(out, key=lambda e: e["name"])


def _next(planned, state: JobStateRow | None, now: datetime) -> str:
    """The first slot after `now`, or after the last slot handled when that is later (a
    slot run early with `--once --at`)."""
    after = now
    if state is not None and state.last_slot:
        after = max(now, datetime.fromisoformat(state.last_slot.replace("Z", "+00:00")))
    return stamp(planned.schedule.following(after))


def _common(name, kind, package, description, state: JobStateRow | None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "package": package,
        "description": description,
        "paused": bool(state and state.paused),
        "last_run": state.last_run_at if state else None,
        "last_result": state.last_result if state else None,
        "last_summary": state.last_summary if state else None,
        "last_error": state.last_error if state else None,
        "last_success": state.last_success_at if state else None,
        "runs": state.runs if state else 0,
        "failures": state.failures if state else 0,
    }


def show(session: Session, plan: Plan, name: str, now: datetime) -> dict[str, Any]:
    """One job with its recent slot records, newest first."""
    entry = next((e for e in describe(session, plan, now) if e["name"] == name), None)
    if entry is None:
        raise NotFoundError(_unknown(plan, name))
    rows = session.scalars(
        select(JobRunRow).where(JobRunRow.job == name).order_by(JobRunRow.slot.desc()).limit(RECENT)
    )
    entry["recent"] = [
        {
            "slot": r.slot,
            "result": r.result,
            "started": r.started_at,
            "finished": r.finished_at,
            "summary": r.summary,
            "error": r.error,
            "worker": r.worker,
        }
        for r in rows
    ]
    return entry


def set_paused(session: Session, actor: Actor, plan: Plan, name: str, paused: bool) -> None:
    """Pause or resume `name`; ConflictError when it already is."""
    if name not in plan.names():
        raise NotFoundError(_unknown(plan, name))
    state = state_of(session, name)
    if state.paused == paused:
        raise ConflictError(f"{name} is already {'paused' if paused else 'running'}")
    state.paused = paused
    state.paused_by = actor.id if paused else None
    state.paused_at = stamp() if paused else None
    action = "worker.job.paused" if paused else "worker.job.resumed"
    audit.append(session, actor, [audit.Change(action, f"job:{name}", {"job": name})])


def _unknown(plan: Plan, name: str) -> str:
    return f"no job {name!r}; the jobs are: {', '.join(plan.names())}"
