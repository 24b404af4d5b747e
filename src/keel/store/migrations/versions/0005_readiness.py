"""The readiness package: lifecycle stages and system reviews.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readiness_stages",
        sa.Column("system", sa.String(300), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("since", sa.String(32), nullable=False),
        sa.Column("changed_by", sa.String(300), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("system", name=op.f("pk_readiness_stages")),
    )
    op.create_table(
        "readiness_reviews",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(300), nullable=False),
        sa.Column("comment", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readiness_reviews")),
    )
    op.create_index("ix_readiness_reviews_system", "readiness_reviews", ["system"])


def downgrade() -> None:
    op.drop_table("readiness_reviews")
    op.drop_table("readiness_stages")
