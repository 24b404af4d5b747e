"""Pipeline runs: which system and pipeline ran, who ran it, what it used and reported.

Keel does not orchestrate: a run is opened when a pipeline starts (wherever it runs), its
facts (datasets by digest with their catalog source, parameters, metrics, artifacts) are
recorded as it goes, and it is closed as complete or failed. `pipeline.run.started` and `pipeline.run.finished`
events put both ends in the log; evidence recorded during the run names it (`attach`).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.audit.canonical import canonical_bytes
from keel.audit.events import Change, append
from keel.catalog.queries import get_entity, system_key
from keel.catalog.refs import key_of
from keel.errors import ConflictError, InputError, NotFoundError, PermissionDenied, UsageError
from keel.identity import Actor
from keel.models import Strict
from keel.pipeline.evidence import Evidence, first_problem, record_evidence
from keel.pipeline.tables import RunRow

STATUSES = ("complete", "failed")


@dataclass(frozen=True)
class Run:
    id: str
    system: str
    pipeline: str
    actor: str
    status: str
    started_at: str
    finished_at: str | None
    facts: dict[str, Any]

    @classmethod
    def from_row(cls, row: RunRow) -> Run:
        return cls(
            row.id,
            row.system,
            row.pipeline,
            row.actor,
            row.status,
            row.started_at,
            row.finished_at,
            json.loads(row.facts),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "pipeline": self.pipeline,
            "actor": self.actor,
            "status": self.status,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "facts": self.facts,
        }


def start_run(session: Session, actor: Actor, system: str, pipeline: str) -> Run:
    key = system_key(session, system)
    if not pipeline or len(pipeline) > 200 or not pipeline.isprintable():
        raise UsageError("a pipeline name is 1 to 200 printable characters")
    run_id = uuid.uuid4().hex
    (event,) = append(
        session,
        actor,
        [Change("pipeline.run.started", key, {"run": run_id, "pipeline": pipeline})],
    )
    row = RunRow(
        id=run_id,
        system=key,
        pipeline=pipeline,
        actor=actor.id,
        status="running",
        started_at=event.time,
        finished_at=None,
        facts=canonical_bytes({}),
    )
    session.add(row)
    session.flush()
    return Run.from_row(row)


class _Dataset(Strict):
    """A dataset or artifact a run used or made: its digest, the DataSource it comes from, and
    the name and path the run knew it by (what the SDK reports). Nothing else: an unknown
    field is refused (a misspelt `sourse` used to be kept and the lineage silently lost);
    free-form facts of a run go in its `params`."""

    source: str | None = Field(None, max_length=300)
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    name: str | None = Field(None, max_length=300)
    path: str | None = Field(None, max_length=4096)


class _Facts(Strict):
    """What a run reports: datasets and artifacts by digest, parameters, finite metrics."""

    datasets: list[_Dataset] = Field(default_factory=list)
    artifacts: list[_Dataset] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)


def _checked_facts(facts: Any) -> dict[str, Any]:
    try:
        checked = _Facts.model_validate(facts)
    except ValidationError as exc:
        raise first_problem(exc, "run facts") from None
    if not all(math.isfinite(v) for v in checked.metrics.values()):
        raise InputError("run facts metrics: every metric is a finite number")
    for dataset in checked.datasets:
        if dataset.source is not None:
            try:
                dataset.source = key_of(dataset.source, default_kind="datasource")
            except ValueError as exc:
                raise InputError(f"run facts datasets: {exc}") from None
    try:
        canonical_bytes(facts)
    except ValueError:
        raise InputError("run facts hold a number JSON cannot (NaN or infinity)") from None
    return checked.model_dump(exclude_none=True)


def record_facts(session: Session, actor: Actor, run_id: str, facts: Any) -> Run:
    """Save what a running run has reported so far (a release made inside it rests on them)."""
    row = _open_row(session, actor, run_id)
    checked = _checked_facts(facts)
    append(
        session,
        actor,
        [Change("pipeline.run.reported", row.system, {"run": run_id, "facts": checked})],
    )
    row.facts = canonical_bytes(checked)
    session.flush()
    return Run.from_row(row)


def _open_row(session: Session, actor: Actor, run_id: str) -> RunRow:
    row = _row(session, run_id)
    if row.status != "running":
        raise ConflictError(f"run {run_id} already finished ({row.status})")
    if row.actor != actor.id:
        raise PermissionDenied(f"run {run_id} is {row.actor}'s; only they report for it")
    return row


def finish_run(
    session: Session, actor: Actor, run_id: str, status: str, facts: dict[str, Any]
) -> Run:
    if status not in STATUSES:
        raise UsageError(f"a run finishes {' or '.join(STATUSES)}, not {status!r}")
    row = _open_row(session, actor, run_id)
    facts = _checked_facts(facts)
    (event,) = append(
        session,
        actor,
        [
            Change(
                "pipeline.run.finished",
                row.system,
                {"run": run_id, "status": status, "facts": facts},
            )
        ],
    )
    row.status = status
    row.finished_at = event.time
    row.facts = canonical_bytes(facts)
    session.flush()
    return Run.from_row(row)


def get_run(session: Session, run_id: str) -> Run:
    return Run.from_row(_row(session, run_id))


def list_runs(session: Session, system: str | None = None, limit: int = 100) -> list[Run]:
    query = select(RunRow).order_by(RunRow.started_at.desc()).limit(limit)
    if system:
        query = query.where(RunRow.system == system_key(session, system))
    return [Run.from_row(r) for r in session.scalars(query)]


def use_features(session: Session, actor: Actor, run_id: str, ref: str) -> Evidence:
    """Log that a run read a feature set (the access trail: which run, which identity) and
    record its ownership as Feature Ops evidence: pass when the map names its owner."""
    run = _row(session, run_id)
    try:
        key = key_of(ref, default_kind="featureset")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    entity = get_entity(session, key)["entity"]
    if entity["kind"] != "FeatureSet":
        raise UsageError(f"{key} is a {entity['kind']}, not a FeatureSet")
    owner = entity.get("spec", {}).get("owner")
    append(
        session,
        actor,
        [
            Change(
                "pipeline.featureset.accessed",
                key,
                {"run": run_id, "pipeline": run.pipeline, "system": run.system},
            )
        ],
    )
    return record_evidence(
        session,
        actor,
        run.system,
        {
            "track": "feature",
            "check": "ownership",
            "result": "pass" if owner else "fail",
            "inputs": {"featureset": key},
            "log": [
                f"{key} is owned by {owner}" if owner else f"{key} names no owner (spec.owner)"
            ],
        },
        run_id=run_id,
    )


def _row(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id) if isinstance(run_id, str) and len(run_id) <= 32 else None
    if row is None:
        raise NotFoundError(f"no run {run_id!r}")
    return row
