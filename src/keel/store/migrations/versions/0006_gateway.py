"""The gateway package: routes and consumer API keys.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_routes",
        sa.Column("endpoint", sa.String(300), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("upstream", sa.String(1000), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("capture", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("credential_env", sa.String(128), nullable=True),
        sa.Column("guard", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "environment", name=op.f("pk_gateway_routes")),
    )
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("endpoints", sa.Text(), nullable=False),
        sa.Column("operations", sa.Text(), nullable=False),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_keys")),
    )
    op.create_index("ix_gateway_keys_digest", "gateway_keys", ["digest"], unique=True)
    op.create_index("ix_gateway_keys_consumer", "gateway_keys", ["consumer"])


def downgrade() -> None:
    op.drop_table("gateway_keys")
    op.drop_table("gateway_routes")
