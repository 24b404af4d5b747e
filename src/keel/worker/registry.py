"""The control plane's background work as packages declare it: scheduled jobs and reconcilers.

A package declares its work at import time, in its own `jobs` module:

    from keel.worker.registry import JobContext, job, reconciler

    @job("audit.checkpoint", cron="* * * * *", description="Sign both logs' tails.")
    def sign_checkpoints(ctx: JobContext) -> str | None:
        ...  # writes through ctx.session; returns a one-line summary, or None

    @reconciler("notifications.deliver", every=5.0, description="Deliver what is due.")
    def deliver(ctx: JobContext) -> str | None:
        ...

`keel worker` imports every package's `jobs` module (the one list of them is
`keel.worker.runner.JOB_MODULES`) and runs what is due: a job once per cron slot, a
reconciler once per pass. A job's slot record and what the job wrote through `ctx.session`
commit in one transaction, so a slot never completes twice. A reconciler that waits on the
network (a delivery) declares `own_transactions=True`: it gets no `ctx.session` and opens
short transactions of its own with `ctx.workspace.write(ctx.actor)`, so a slow receiver
never holds the store's writer lock. A job that raises fails its slot
(recorded, retried at its next slot); it never stops the worker. A job that wants its
writes kept while failing raises `JobFailed`.

This module imports no other Keel package, so that any layer may declare work here
(tests/test_layers.py lists it as pure).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$")  # `<package>.<what>`


@dataclass(frozen=True)
class JobContext:
    """What one run of a job or one pass of a reconciler is given.

    `workspace` is the `keel.workspace.Workspace` (typed loosely: this module sits below it);
    `session` a write transaction, as the worker's system actor `actor`, that commits with the
    run's record (None for a reconciler declared with `own_transactions`); `now` the time of the run (UTC); `slot` the cron slot a job runs for (UTC),
    None for a reconciler.
    """

    workspace: Any
    session: Any
    actor: Any
    now: datetime
    slot: datetime | None = None


Run = Callable[[JobContext], "str | None"]


class JobFailed(Exception):
    """Raised by a job that found something wrong and recorded it: the slot fails (its record
    says so, `worker.job.failed` is appended) but what the job wrote through `ctx.session`
    commits with it, e.g. the `audit.verify.failed` event a failed verify appends. Any other
    exception rolls back what the job wrote."""


@dataclass(frozen=True)
class Job:
    """Work on a cron schedule (five fields, evaluated in `timezone`, an IANA name)."""

    name: str
    cron: str
    timezone: str
    description: str
    run: Run
    package: str


@dataclass(frozen=True)
class Reconciler:
    """A loop that compares desired with observed state, one pass every `every` seconds."""

    name: str
    every: float
    description: str
    run: Run
    package: str
    own_transactions: bool = False


_JOBS: dict[str, Job] = {}
_RECONCILERS: dict[str, Reconciler] = {}


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"work name {name!r} is not `<package>.<what>` in lower case")
    if name in _JOBS or name in _RECONCILERS:
        raise ValueError(f"work {name!r} is declared twice")


def _package(fn: Callable) -> str:
    parts = fn.__module__.split(".")
    return parts[1] if parts[0] == "keel" and len(parts) > 1 else fn.__module__


def job(name: str, *, cron: str, timezone: str = "UTC", description: str) -> Callable[[Run], Run]:
    """Declare `fn` a job named `name`, run once per slot of `cron` in `timezone`.

    The expression and zone are checked when the worker loads the jobs (keel.worker.cron),
    not here, so that declaring work costs an import nothing.
    """

    def declare(fn: Run) -> Run:
        _check_name(name)
        _JOBS[name] = Job(name, cron, timezone, description, fn, _package(fn))
        return fn

    return declare


def reconciler(
    name: str, *, every: float, description: str, own_transactions: bool = False
) -> Callable[[Run], Run]:
    """Declare `fn` a reconciler named `name`, one pass every `every` seconds (> 0).

    With `own_transactions` a pass runs outside any transaction of the worker's and writes
    in transactions it opens itself (see the module's docstring)."""
    if not every > 0:
        raise ValueError(f"reconciler {name!r}: every must be a positive number of seconds")

    def declare(fn: Run) -> Run:
        _check_name(name)
        _RECONCILERS[name] = Reconciler(
            name, float(every), description, fn, _package(fn), own_transactions
        )
        return fn

    return declare


def jobs() -> list[Job]:
    """Every declared job, by name."""
    return [_JOBS[n] for n in sorted(_JOBS)]


def reconcilers() -> list[Reconciler]:
    """Every declared reconciler, by name."""
    return [_RECONCILERS[n] for n in sorted(_RECONCILERS)]
