"""The readiness package's tables: each system's lifecycle stage, and its reviews.

The events (`stage.advance`, `system.review`) are the record; these rows index them.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class StageRow(Base):
    """A system's lifecycle stage; a system without a row is in `design`."""

    __tablename__ = "readiness_stages"

    system: Mapped[str] = mapped_column(String(300), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    since: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[str] = mapped_column(String(300))
    event_seq: Mapped[int] = mapped_column(Integer)


class ReviewRow(Base):
    """A privacy, legal or security review of a system by its named reviewer."""

    __tablename__ = "readiness_reviews"
    __table_args__ = (Index("ix_readiness_reviews_system", "system"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    system: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(300))
    comment: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(Integer)
