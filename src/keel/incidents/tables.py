"""The incidents package's tables: incidents, their notes and action items, and the cursor
of the `incidents.detect` reconciler.

The events (`incidents.incident.*`, `incidents.action.*`) are the record; these rows index
them. Lists (systems, releases) are JSON arrays of normalised references.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class IncidentRow(Base):
    """One incident: `INC-<number>`, numbered in order per workspace."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_cause", "cause"),
    )

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    severity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    systems: Mapped[str] = mapped_column(Text)  # JSON list of system keys
    releases: Mapped[str] = mapped_column(Text)  # JSON list of release names
    owner: Mapped[str | None] = mapped_column(String(300), nullable=True)
    cause: Mapped[str | None] = mapped_column(String(300), nullable=True)
    opened_at: Mapped[str] = mapped_column(String(32))
    opened_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[str] = mapped_column(String(32))
    acknowledged_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mitigated_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event_seq: Mapped[int] = mapped_column(BigInteger)  # the opening event


class NoteRow(Base):
    """A note on an incident, by a person or by Keel (a repeated cause)."""

    __tablename__ = "incident_notes"

    incident: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(String(4000))
    author: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(BigInteger)


class ActionItemRow(Base):
    """Follow-up work an incident calls for: an owner, a due date, a tag, done or not."""

    __tablename__ = "incident_actions"

    incident: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(300))
    due: Mapped[str | None] = mapped_column(String(10), nullable=True)  # YYYY-MM-DD
    tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, server_default=false())
    done_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32))


class CursorRow(Base):
    """The last seq of a log the `incidents.detect` reconciler has read."""

    __tablename__ = "incident_cursors"

    log: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
