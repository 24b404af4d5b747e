"""The pipeline package's tables: model releases and their signed attestation bundles."""

from __future__ import annotations

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class ReleaseRow(Base):
    """`model@N`: one build of a model, its artifact digest and its DSSE attestation bundle."""

    __tablename__ = "releases"
    __table_args__ = (
        Index("ix_releases_model_version", "model", "version", unique=True),
        Index("ix_releases_run", "run"),
    )

    name: Mapped[str] = mapped_column(String(320), primary_key=True)  # model:ns/name@N
    model: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    system: Mapped[str | None] = mapped_column(String(300), nullable=True)
    artifact: Mapped[str] = mapped_column(String(1000))  # the file name it was released from
    artifact_digest: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(300))
    bundle: Mapped[bytes] = mapped_column(LargeBinary)  # the .intoto.jsonl, as signed
    run: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the run that built it


class RunRow(Base):
    """A pipeline run: where it ran, who ran it, and what it reported (JSON facts)."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_system", "system"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    system: Mapped[str] = mapped_column(String(300))
    pipeline: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # running | complete | failed
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    facts: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON: params, metrics, data


class EvidenceRow(Base):
    """One check's outcome; the `evidence.add` event is the record, this row its index."""

    __tablename__ = "pipeline_evidence"
    __table_args__ = (
        Index("ix_pipeline_evidence_system", "system"),
        Index("ix_pipeline_evidence_run", "run_id"),
        Index("ix_pipeline_evidence_release", "release"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    system: Mapped[str] = mapped_column(String(300))
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    release: Mapped[str | None] = mapped_column(String(320), nullable=True)
    track: Mapped[str] = mapped_column(String(16))
    check: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(80))  # sha256 of the canonical record
    record: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(Integer)


class ApprovalRow(Base):
    """An approval of a release by a pod member, in one role."""

    __tablename__ = "pipeline_approvals"

    release: Mapped[str] = mapped_column(String(320), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    approver: Mapped[str] = mapped_column(String(300), primary_key=True)
    comment: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(Integer)


class PromotionRow(Base):
    """What an environment serves for a model now, and the version it replaced."""

    __tablename__ = "pipeline_promotions"

    model: Mapped[str] = mapped_column(String(300), primary_key=True)
    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    system: Mapped[str] = mapped_column(String(300))
    release: Mapped[str] = mapped_column(String(320))
    previous: Mapped[str | None] = mapped_column(String(320), nullable=True)  # rollback target
    promoted_at: Mapped[str] = mapped_column(String(32))
    promoted_by: Mapped[str] = mapped_column(String(300))
    event_seq: Mapped[int] = mapped_column(Integer)
