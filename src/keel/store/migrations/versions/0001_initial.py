"""The first schema: workspace settings, the catalog, and the audit events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_workspace_settings")),
    )
    op.create_table(
        "catalog_entities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(63), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entities")),
        sa.UniqueConstraint("key", name=op.f("uq_catalog_entities_key")),
    )
    op.create_index(op.f("ix_catalog_entities_kind"), "catalog_entities", ["kind"])
    op.create_table(
        "catalog_relations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["catalog_entities.id"],
            name=op.f("fk_catalog_relations_entity_id_catalog_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_relations")),
    )
    op.create_index(op.f("ix_catalog_relations_entity_id"), "catalog_relations", ["entity_id"])
    op.create_index("ix_catalog_relations_target_type", "catalog_relations", ["target", "type"])
    op.create_index("ix_catalog_relations_source_type", "catalog_relations", ["source", "type"])
    op.create_table(
        "audit_events",
        sa.Column("log", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("op", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "seq", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_subject", "audit_events", ["subject"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_index("ix_audit_events_op", "audit_events", ["op"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("catalog_relations")
    op.drop_table("catalog_entities")
    op.drop_table("workspace_settings")
