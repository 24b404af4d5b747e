"""The notifications package: subscriptions, the log cursor, deliveries and their attempts.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications_subscriptions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("secret_ref", sa.String(500), nullable=True),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("removed_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_subscriptions")),
    )
    op.create_index(
        "ix_notifications_subscriptions_number",
        "notifications_subscriptions",
        ["number"],
        unique=True,
    )
    op.create_table(
        "notifications_cursor",
        sa.Column("log", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("log", name=op.f("pk_notifications_cursor")),
    )
    op.create_table(
        "notifications_deliveries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subscription", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("done_at", sa.String(32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_deliveries")),
    )
    op.create_index(
        "ix_notifications_deliveries_once",
        "notifications_deliveries",
        ["subscription", "event_seq"],
        unique=True,
    )
    op.create_index(
        "ix_notifications_deliveries_due", "notifications_deliveries", ["status", "next_at"]
    )
    op.create_table(
        "notifications_attempts",
        sa.Column("delivery", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery", "number", name=op.f("pk_notifications_attempts")),
    )


def downgrade() -> None:
    op.drop_table("notifications_attempts")
    op.drop_table("notifications_deliveries")
    op.drop_table("notifications_cursor")
    op.drop_table("notifications_subscriptions")
