"""The incidents package: incidents, notes, action items, the detect reconciler's cursor.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("systems", sa.Text(), nullable=False),
        sa.Column("releases", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(300), nullable=True),
        sa.Column("cause", sa.String(300), nullable=True),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("opened_by", sa.String(300), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("acknowledged_at", sa.String(32), nullable=True),
        sa.Column("mitigated_at", sa.String(32), nullable=True),
        sa.Column("resolved_at", sa.String(32), nullable=True),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_cause", "incidents", ["cause"])
    op.create_table(
        "incident_notes",
        sa.Column("incident", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("author", sa.String(300), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("incident", "number", name=op.f("pk_incident_notes")),
    )
    op.create_table(
        "incident_actions",
        sa.Column("incident", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("due", sa.String(10), nullable=True),
        sa.Column("tag", sa.String(32), nullable=True),
        sa.Column("done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("done_at", sa.String(32), nullable=True),
        sa.Column("done_by", sa.String(300), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("incident", "number", name=op.f("pk_incident_actions")),
    )
    op.create_table(
        "incident_cursors",
        sa.Column("log", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("log", name=op.f("pk_incident_cursors")),
    )


def downgrade() -> None:
    op.drop_table("incident_cursors")
    op.drop_table("incident_actions")
    op.drop_table("incident_notes")
    op.drop_index("ix_incidents_cause", "incidents")
    op.drop_index("ix_incidents_status", "incidents")
    op.drop_table("incidents")
