"""The catalog's tables: entities as applied, and the relations their specs declare.

Relations point at normalised keys rather than row ids, so a reference to an entity that
does not exist yet can be stored (and reported by `map validate`) like in Backstage.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keel.store.base import Base


class EntityRow(Base):
    __tablename__ = "catalog_entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(63), index=True)
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of the entity
    digest: Mapped[str] = mapped_column(String(80))


class RelationRow(Base):
    __tablename__ = "catalog_relations"
    __table_args__ = (
        Index("ix_catalog_relations_target_type", "target", "type"),
        Index("ix_catalog_relations_source_type", "source", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The entity whose spec declared the relation: replacing it replaces its relations.
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_entities.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
