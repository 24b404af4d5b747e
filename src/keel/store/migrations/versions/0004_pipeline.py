"""The pipeline package: releases with their attestation bundles, runs, evidence, approvals,
promotions.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("name", sa.String(320), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(300), nullable=True),
        sa.Column("artifact", sa.String(1000), nullable=False),
        sa.Column("artifact_digest", sa.String(80), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.Column("run", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_releases")),
    )
    op.create_index("ix_releases_model_version", "releases", ["model", "version"], unique=True)
    op.create_index("ix_releases_run", "releases", ["run"])
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(300), nullable=False),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=True),
        sa.Column("facts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
    )
    op.create_index("ix_pipeline_runs_system", "pipeline_runs", ["system"])
    op.create_table(
        "pipeline_evidence",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("release", sa.String(320), nullable=True),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_evidence")),
    )
    op.create_index("ix_pipeline_evidence_system", "pipeline_evidence", ["system"])
    op.create_index("ix_pipeline_evidence_run", "pipeline_evidence", ["run_id"])
    op.create_index("ix_pipeline_evidence_release", "pipeline_evidence", ["release"])
    op.create_table(
        "pipeline_approvals",
        sa.Column("release", sa.String(320), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("approver", sa.String(300), nullable=False),
        sa.Column("comment", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("release", "role", "approver", name=op.f("pk_pipeline_approvals")),
    )
    op.create_table(
        "pipeline_promotions",
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("system", sa.String(300), nullable=False),
        sa.Column("release", sa.String(320), nullable=False),
        sa.Column("previous", sa.String(320), nullable=True),
        sa.Column("promoted_at", sa.String(32), nullable=False),
        sa.Column("promoted_by", sa.String(300), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("model", "environment", name=op.f("pk_pipeline_promotions")),
    )


def downgrade() -> None:
    for table in (
        "pipeline_promotions",
        "pipeline_approvals",
        "pipeline_evidence",
        "pipeline_runs",
        "releases",
    ):
        op.drop_table(table)
