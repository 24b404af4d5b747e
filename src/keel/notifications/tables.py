"""The notifications package's tables: subscriptions, the cursor into the governance log,
deliveries (one per subscription and event) and their attempts.

An attempt is a row here, not a governance event: a receiver that is down for an hour would
otherwise write hundreds of events. The log gets one event when a delivery dead-letters.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class SubscriptionRow(Base):
    __tablename__ = "notifications_subscriptions"
    __table_args__ = (Index("ix_notifications_subscriptions_number", "number", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # sub-1, sub-2, ...
    number: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(300))  # the pattern(s), comma-separated
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(String(2000))  # the URL or the address
    secret_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    after_seq: Mapped[int] = mapped_column(BigInteger)  # receives events after this one
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(300))
    removed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class CursorRow(Base):
    """How far into a log the deliveries were fanned out (the outbox's read position)."""

    __tablename__ = "notifications_cursor"

    log: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class DeliveryRow(Base):
    """One event to one subscription; `id` is the `webhook-id` of every attempt."""

    __tablename__ = "notifications_deliveries"
    __table_args__ = (
        Index("ix_notifications_deliveries_once", "subscription", "event_seq", unique=True),
        Index("ix_notifications_deliveries_due", "status", "next_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<hex>
    subscription: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[str] = mapped_column(String(32))  # when it is due (stamp)
    created_at: Mapped[str] = mapped_column(String(32))
    done_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AttemptRow(Base):
    __tablename__ = "notifications_attempts"

    delivery: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | final
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # HTTP status, SMTP code
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    ms: Mapped[int] = mapped_column(Integer)
