"""The catalog's service functions, called by the CLI (and the API later) alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.catalog.apply import ApplyResult, apply_entities
from keel.catalog.entity import Entity
from keel.catalog.parse import parse_documents
from keel.catalog.source import load_paths, parse_text
from keel.catalog.tables import EntityRow
from keel.identity import Actor


@dataclass
class Loaded:
    entities: list[Entity]
    warnings: list[str]


def load(paths: Iterable[str | Path]) -> Loaded:
    """Read and validate catalog files; raises InputError with every problem found."""
    source = load_paths(paths)
    warnings = list(source.warnings)
    return Loaded(parse_documents(source.documents, warnings), warnings)


def load_text(text: str, file: str = "<input>") -> list[Entity]:
    return parse_documents(parse_text(text, file))


def apply(session: Session, actor: Actor, entities: list[Entity]) -> ApplyResult:
    return apply_entities(session, actor, entities)


def user_exists(session: Session, user_key: str) -> bool:
    """Whether a User entity with this normalised key is in the catalog."""
    found = session.execute(
        select(EntityRow.id).where(EntityRow.key == user_key, EntityRow.kind == "User")
    ).first()
    return found is not None
