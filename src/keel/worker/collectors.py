"""The worker's figures for `/metrics` (keel.metrics), from its stored state, so the control
plane reports them whichever host runs the worker: runs and failures of each job and
reconciler, when each last succeeded, and which are paused."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from keel.clock import parse_stamp
from keel.metrics import collector
from keel.worker.runner import states


@collector("worker")
def worker_figures(session) -> Iterator:
    runs = CounterMetricFamily(
        "keel_worker_job_runs",
        "Job slots and reconciler passes run, by job and result (ok, failed).",
        labels=["job", "result"],
    )
    success = GaugeMetricFamily(
        "keel_worker_job_last_success_timestamp_seconds",
        "When each job or reconciler last succeeded (Unix time).",
        labels=["job"],
    )
    paused = GaugeMetricFamily(
        "keel_worker_job_paused", "1 for a paused job or reconciler.", labels=["job"]
    )
    for name, state in sorted(states(session).items()):
        runs.add_metric([name, "ok"], state.runs - state.failures)
        runs.add_metric([name, "failed"], state.failures)
        if state.last_success_at:
            success.add_metric([name], parse_stamp(state.last_success_at).timestamp())
        paused.add_metric([name], 1 if state.paused else 0)
    yield runs
    yield success
    yield paused
