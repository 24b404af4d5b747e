"""What the checks are told about the world: catalogued sources and the datasets a run used.

Plain values, filled in by whoever knows them (the store side reads them from the catalog's
DataSource entities); the checks never look anything up themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceFacts:
    """A catalogued DataSource: its reference, declared origin, consent purposes and owner."""

    ref: str  # e.g. "datasource:default/german-credit"
    origin: str | None = None
    consent_purposes: list[str] = field(default_factory=list)  # empty: no consent declared
    owner: str | None = None


@dataclass(frozen=True)
class DatasetUse:
    """A file a run read, and the catalogued source it comes from (None: not catalogued)."""

    name: str
    path: Path
    source: SourceFacts | None = None
