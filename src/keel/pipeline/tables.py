"""The pipeline package's tables: model releases and their signed attestation bundles."""

from __future__ import annotations

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class ReleaseRow(Base):
    """`model@N`: one build of a model, its artifact digest and its DSSE attestation bundle."""

    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_model_version", "model", "version", unique=True),)

    name: Mapped[str] = mapped_column(String(320), primary_key=True)  # model:ns/name@N
    model: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    system: Mapped[str | None] = mapped_column(String(300), nullable=True)
    artifact: Mapped[str] = mapped_column(String(1000))  # the file name it was released from
    artifact_digest: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(300))
    bundle: Mapped[bytes] = mapped_column(LargeBinary)  # the .intoto.jsonl, as signed
