"""`keel export`: the catalog as YAML that re-applies to the same state, byte for byte stable.

Entities are ordered by kind (people, containers, then the map), namespace and name; keys
inside an entity keep the envelope's order and are sorted below it.
"""

from __future__ import annotations

import json

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.catalog import registry
from keel.catalog.parse import METADATA_FIELDS
from keel.catalog.tables import EntityRow

_Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc, valid-type]
    """Multi-line strings as literal blocks, so exported API definitions stay readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def export_yaml(session: Session) -> str:
    rows = session.execute(
        select(EntityRow.kind, EntityRow.namespace, EntityRow.name, EntityRow.body)
    )
    ordered = sorted(
        rows, key=lambda r: (_order(r.kind), r.kind, r.namespace.lower(), r.name.lower())
    )
    docs = []
    for row in ordered:
        body = json.loads(row.body)
        metadata = body["metadata"]
        entity = {
            "apiVersion": body["apiVersion"],
            "kind": body["kind"],
            "metadata": {k: metadata[k] for k in METADATA_FIELDS if k in metadata},
            "spec": body.get("spec", {}),
        }
        docs.append(
            yaml.dump(
                entity,
                Dumper=_Dumper,
                sort_keys=False,
                allow_unicode=True,
                default_flow_style=False,
                width=100,
            )
        )
    return "---\n".join(docs)


def _order(kind: str) -> int:
    kind_def = registry.lookup(kind)
    return kind_def.order if kind_def else 1000
