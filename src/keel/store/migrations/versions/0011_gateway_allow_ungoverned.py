"""Gateway routes say whether production traffic without a release is served (`allow_ungoverned`).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_routes") as batch:
        batch.add_column(
            sa.Column("allow_ungoverned", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("gateway_routes") as batch:
        batch.drop_column("allow_ungoverned")
