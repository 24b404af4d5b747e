"""Model releases and their attestation bundles.

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
        sa.PrimaryKeyConstraint("name", name=op.f("pk_releases")),
    )
    op.create_index("ix_releases_model_version", "releases", ["model", "version"], unique=True)


def downgrade() -> None:
    op.drop_table("releases")
