"""The whole catalog in memory, for the checks that look at every node once.

Lineage edges run downstream -> upstream (`model --dependsOn--> datasource`); the
`upstream` and `downstream` maps index them both ways.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel.catalog import kinds, registry, suggest
from keel.catalog.entity import Relation
from keel.catalog.refs import parse_ref, system_key_of
from keel.catalog.tables import EntityRow, RelationRow
from keel.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        return self.body.get("spec") or {}

    @property
    def kind_def(self) -> kinds.KindDef | None:
        return registry.lookup(self.kind)

    @property
    def title(self) -> str:
        return self.body["metadata"].get("title") or self.name


@dataclass
class CatalogGraph:
    nodes: dict[str, Node]
    relations: list[Relation]
    upstream: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    downstream: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_source: dict[str, list[Relation]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for rel in self.relations:
            self.by_source[rel.source].append(rel)
            if rel.type in kinds.LINEAGE_RELATIONS:
                self.upstream[rel.source].append(rel.target)
                self.downstream[rel.target].append(rel.source)

    def targets(self, key: str, relation: str) -> list[str]:
        return [r.target for r in self.by_source.get(key, ()) if r.type == relation]

    def system_of(self, key: str) -> str | None:
        systems = [t for t in self.targets(key, "partOf") if t.startswith("system:")]
        return systems[0] if systems else None

    def owner_of(self, key: str) -> str | None:
        owners = self.targets(key, "ownedBy")
        return owners[0] if owners else None

    def resolve(self, text: str, *, default_kind: str | None = None) -> Node:
        """The node a user-typed reference names; raises NotFoundError."""
        try:
            key = parse_ref(text, default_kind=default_kind).key
        except ValueError as exc:
            raise NotFoundError(str(exc)) from None
        if key not in self.nodes:
            raise suggest.missing(key, self.nodes, text)
        return self.nodes[key]

    def resolve_system(self, text: str) -> Node:
        """The System a user-typed reference names; NotFoundError for anything else."""
        try:
            key = system_key_of(text)
        except ValueError as exc:
            raise NotFoundError(str(exc)) from None
        if key not in self.nodes:
            raise suggest.missing(key, self.nodes, text)
        node = self.nodes[key]
        if node.kind != "System":
            raise NotFoundError(f"{text!r} is a {node.kind}, not a System")
        return node


def load_graph(session: Session) -> CatalogGraph:
    nodes = {
        row.key: Node(row.key, row.kind, row.namespace, row.name, json.loads(row.body))
        for row in session.execute(
            select(
                EntityRow.key, EntityRow.kind, EntityRow.namespace, EntityRow.name, EntityRow.body
            )
        )
    }
    relations = [
        Relation(r.source, r.type, r.target)
        for r in session.execute(select(RelationRow.source, RelationRow.type, RelationRow.target))
    ]
    return CatalogGraph(nodes, relations)


SCOPE_CHUNK = 500  # keys per IN (...) query


def load_system_scope(session: Session, system_key: str) -> CatalogGraph:
    """The part of the catalog that a system's own questions read, however big the catalog.

    The system and its members, everything upstream of them (lineage), every relation of
    those nodes, and the nodes those relations name (owners, pod members, rollback targets,
    other systems). `validate(scope, system=...)` then answers owner, lineage, governance,
    rollback, reference and cycle as on the whole catalog; not `orphan`, which looks
    downstream, possibly into other systems.
    """
    members = {system_key}
    members.update(
        session.scalars(
            select(RelationRow.source).where(
                RelationRow.type == "partOf", RelationRow.target == system_key
            )
        )
    )
    relations: list[Relation] = []
    named: set[str] = set(members)
    seen: set[str] = set()
    frontier = members
    while frontier:
        seen |= frontier
        upstream: set[str] = set()
        for chunk in _chunks(frontier):
            for r in session.execute(
                select(RelationRow.source, RelationRow.type, RelationRow.target).where(
                    RelationRow.source.in_(chunk)
                )
            ):
                relations.append(Relation(r.source, r.type, r.target))
                named.add(r.target)
                if r.type in kinds.LINEAGE_RELATIONS and r.target not in seen:
                    upstream.add(r.target)
        frontier = upstream
    nodes: dict[str, Node] = {}
    for chunk in _chunks(named):
        for row in session.execute(
            select(
                EntityRow.key, EntityRow.kind, EntityRow.namespace, EntityRow.name, EntityRow.body
            ).where(EntityRow.key.in_(chunk))
        ):
            nodes[row.key] = Node(row.key, row.kind, row.namespace, row.name, json.loads(row.body))
    return CatalogGraph(nodes, relations)


def _chunks(keys: set[str]) -> list[list[str]]:
    ordered = sorted(keys)
    return [ordered[i : i + SCOPE_CHUNK] for i in range(0, len(ordered), SCOPE_CHUNK)]


def system_members(graph: CatalogGraph, system_key: str) -> set[str]:
    """The system itself and every node whose spec.system names it."""
    members = {system_key}
    members.update(
        r.source for r in graph.relations if r.type == "partOf" and r.target == system_key
    )
    return members


def strongly_connected(keys: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (catalogs are deeper than Python's recursion limit).

    Returns the components in reverse topological order: a component comes after every
    component it has an edge to, so a pass in this order sees upstream before downstream.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in keys:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out
