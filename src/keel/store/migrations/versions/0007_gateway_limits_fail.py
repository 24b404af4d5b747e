"""Gateway routes say what happens when the limit store is down (`limits_fail`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_routes") as batch:
        batch.add_column(sa.Column("limits_fail", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateway_routes") as batch:
        batch.drop_column("limits_fail")
