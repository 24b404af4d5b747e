"""Every package's kinds in one list, and the lookup the parser and the graph use.

As `keel.store.schema` lists every package's tables, this module lists every package's
kinds: the catalog's own (`kinds.CATALOG_KINDS`) and those other packages define in a
`*_kind` module that imports only `keel.catalog.kinds` and its own package's tables, so the
catalog can list them without an import circle (tests/test_layers.py checks it). Names
match case-insensitively, as in references.
"""

from __future__ import annotations

from keel.catalog.kinds import CATALOG_KINDS, KindDef
from keel.pipeline.policy_kind import POLICY

KINDS: tuple[KindDef, ...] = (*CATALOG_KINDS, POLICY)

_BY_NAME: dict[str, KindDef] = {}


def register(kind_def: KindDef) -> KindDef:
    """Add a kind (KINDS are added here; a test or an extension may add its own)."""
    _BY_NAME[kind_def.kind.lower()] = kind_def
    return kind_def


def unregister(kind: str) -> None:
    _BY_NAME.pop(kind.lower(), None)


def lookup(kind: str) -> KindDef | None:
    return _BY_NAME.get(kind.lower())


def known_kinds() -> list[str]:
    return sorted(d.kind for d in _BY_NAME.values())


for _kind in KINDS:
    register(_kind)
