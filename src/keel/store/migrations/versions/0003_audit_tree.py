"""The audit log's Merkle tree nodes, signed checkpoints and key history.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_nodes",
        sa.Column("log", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "level", "idx", name=op.f("pk_audit_nodes")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("log", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("log", "size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("retired_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_audit_keys")),
    )
    _backfill_trees()


def _backfill_trees() -> None:
    """Events written before this revision become the first leaves of their log's tree."""
    from keel.audit import merkle, tree

    conn = op.get_bind()
    logs = [row[0] for row in conn.execute(sa.text("SELECT DISTINCT log FROM audit_events"))]
    for log in logs:
        bodies = conn.execute(
            sa.text("SELECT body FROM audit_events WHERE log = :log ORDER BY seq"), {"log": log}
        )
        hashes = [merkle.leaf_hash(bytes(body)) for (body,) in bodies]
        nodes = tree.new_nodes(0, {}, hashes)
        if nodes:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_nodes (log, level, idx, hash) VALUES (:log, :lv, :ix, :h)"
                ),
                [{"log": log, "lv": lv, "ix": ix, "h": h} for lv, ix, h in nodes],
            )


def downgrade() -> None:
    op.drop_table("audit_keys")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_nodes")
