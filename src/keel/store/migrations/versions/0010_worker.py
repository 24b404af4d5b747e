"""The worker package: job state and job slot records.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_jobs",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_by", sa.String(300), nullable=True),
        sa.Column("paused_at", sa.String(32), nullable=True),
        sa.Column("last_slot", sa.String(32), nullable=True),
        sa.Column("last_run_at", sa.String(32), nullable=True),
        sa.Column("last_result", sa.String(8), nullable=True),
        sa.Column("last_summary", sa.String(500), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_success_at", sa.String(32), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failing", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_jobs")),
    )
    op.create_table(
        "worker_runs",
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("slot", sa.String(32), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("summary", sa.String(500), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_worker_runs")),
    )


def downgrade() -> None:
    op.drop_table("worker_runs")
    op.drop_table("worker_jobs")
