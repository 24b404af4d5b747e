"""The worker's tables: each job's and reconciler's stored state, and one record per job slot.

`worker_jobs` is what a restarted worker resumes from: the newest slot handled, whether the
job is paused, its last result, and counts of its runs and failures (the metrics read them).
`worker_runs` has one row per job slot that completed or failed; its key (job, slot) is
what makes a slot complete once: the row commits in the transaction the job wrote in.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class JobStateRow(Base):
    __tablename__ = "worker_jobs"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    paused_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_slot: Mapped[str | None] = mapped_column(String(32), nullable=True)  # jobs only
    last_run_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_result: Mapped[str | None] = mapped_column(String(8), nullable=True)  # ok | failed
    last_summary: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_success_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in a row


class JobRunRow(Base):
    """A job slot that completed (`ok`) or failed; written once, in the slot's transaction."""

    __tablename__ = "worker_runs"

    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[str] = mapped_column(String(32), primary_key=True)  # UTC, as keel.clock.stamp
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    worker: Mapped[str] = mapped_column(String(200))  # host:pid of the worker that ran it
