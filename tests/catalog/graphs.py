"""Random catalogs for property tests, and a graph built from entities without a store."""

from __future__ import annotations

from hypothesis import strategies as st

from keel.catalog.entity import Entity
from keel.catalog.graph import CatalogGraph, Node
from keel.catalog.parse import parse_documents
from keel.catalog.source import Document
from tests.catalog.helpers import entity, team

MAP_KINDS = ["DataSource", "FeatureSet", "Model", "API", "BusinessOutcome"]


def graph_of(entities: list[Entity]) -> CatalogGraph:
    nodes = {e.key: Node(e.key, e.kind, e.ref.namespace, e.ref.name, e.body) for e in entities}
    return CatalogGraph(nodes, [r for e in entities for r in e.relations])


def parse(docs: list[dict]) -> list[Entity]:
    return parse_documents([Document(d, "gen.yaml", {}) for d in docs])


@st.composite
def catalogs(draw, max_nodes: int = 12) -> list[dict]:
    n = draw(st.integers(2, max_nodes))
    kinds = [draw(st.sampled_from(MAP_KINDS)) for _ in range(n)]
    names = [f"{k.lower()}:n{i}" for i, k in enumerate(kinds)]
    docs = [team("t")]
    for i, kind in enumerate(kinds):
        # edges to existing nodes (cycles allowed) and now and then to nothing
        targets = draw(st.lists(st.integers(0, n), max_size=3, unique=True))
        deps = [names[t] if t < n else f"model:ghost{i}" for t in targets]
        spec: dict = {"dependsOn": deps}
        if draw(st.booleans()):
            spec["owner"] = draw(st.sampled_from(["t", "nobody"]))
        if kind == "DataSource" and draw(st.booleans()):
            spec["origin"] = "somewhere"
        if kind != "BusinessOutcome" and draw(st.booleans()):
            spec["governance"] = ["risk-approval"]
        if draw(st.booleans()):
            spec["rollback"] = draw(
                st.sampled_from(
                    [
                        {"strategy": "previous-version"},
                        {"strategy": "fallback", "target": names[draw(st.integers(0, n - 1))]},
                        {"strategy": "fallback", "target": "model:gone"},
                    ]
                )
            )
        if kind == "API":
            spec.update(
                type="openapi", lifecycle="production", definition="x", owner=spec.get("owner", "t")
            )
        docs.append(entity(kind, f"n{i}", spec))
    return docs
