"""Plans of test jobs, built without the global registry, and reading what the worker stored."""

from __future__ import annotations

import os

from sqlalchemy import select

from keel import audit
from keel.worker import cron, runner
from keel.worker.registry import Job, Reconciler
from keel.worker.tables import JobRunRow
from tests.conftest import REPO

SLOW_ACTION = "tests.slot.ran"  # what tests/worker/slowjobs.py writes (imported by children only)


def env_for(settings) -> dict[str, str]:
    """The environment of a `keel` child process on the workspace of `settings`."""
    return {
        **os.environ,
        "KEEL_HOME": str(settings.home),
        "KEEL_DATABASE_URL": settings.database_url,
        "PYTHONPATH": str(REPO),
    }


def plan(*jobs: Job, reconcilers: tuple[Reconciler, ...] = ()) -> runner.Plan:
    return runner.Plan(
        [runner.Planned(j, cron.parse(j.cron, j.timezone)) for j in jobs], list(reconcilers)
    )


def job(name: str, run, cron_: str = "0 * * * *", zone: str = "UTC") -> Job:
    return Job(name, cron_, zone, "a test job", run, "tests")


def runs(ws, name: str) -> list[JobRunRow]:
    with ws.read() as session:
        return list(
            session.scalars(select(JobRunRow).where(JobRunRow.job == name).order_by(JobRunRow.slot))
        )


def events(ws, action: str) -> list[audit.Event]:
    with ws.read() as session:
        return audit.list_events(session, action=action)
