"""The catalog's domain types: an entity as applied, and the relations its spec declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keel.catalog.refs import EntityRef


@dataclass(frozen=True, slots=True)
class Relation:
    """`source --type--> target`, both as normalised keys. The target may not exist (yet)."""

    source: str
    type: str
    target: str


@dataclass
class Entity:
    ref: EntityRef
    body: dict[str, Any]  # apiVersion, kind, metadata (namespace filled in), spec
    relations: list[Relation] = field(default_factory=list)
    origin: str = ""  # file:line it was read from
    # file:line of a path inside the entity, e.g. ("spec", "owner"), when read from a file
    locate: Callable[[tuple], str] | None = field(default=None, compare=False, repr=False)

    def where(self, path: tuple) -> str:
        return self.locate(path) if self.locate else self.origin

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def spec(self) -> dict[str, Any]:
        return self.body.get("spec") or {}
