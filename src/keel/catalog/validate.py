"""`map validate`: which of the four questions each node cannot answer, and what else is wrong.

The questions (practice 1): owner? lineage? governance? rollback path? Plus dangling
references, dependency cycles, and nodes no business outcome depends on. One pass over the
graph: lineage is computed once per strongly connected component in topological order,
not by a search per node.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

from keel.catalog import kinds
from keel.catalog.graph import CatalogGraph, Node, strongly_connected, system_members

# Dangling owners are reported by the owner question instead.
ANSWERED_ELSEWHERE = frozenset({"ownedBy"})

# The checks, in the order findings are reported for a node.
CHECKS = ("owner", "lineage", "governance", "rollback", "reference", "cycle", "orphan")


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str
    check: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Report:
    nodes: int
    findings: list[Finding]

    @property
    def clean(self) -> bool:
        return not self.findings

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(CHECKS, 0)
        for f in self.findings:
            counts[f.check] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "nodes": self.nodes,
            "summary": self.summary(),
            "findings": [f.as_dict() for f in self.findings],
        }


def validate(graph: CatalogGraph, *, system: str | None = None) -> Report:
    """Every finding in the catalog, or only those on `system` and its members."""
    findings: list[Finding] = []
    nodes = graph.nodes
    has = {key: node.kind_def for key, node in nodes.items()}

    def asks(node: Node, question: str) -> bool:
        kind_def = has[node.key]
        return kind_def is not None and question in kind_def.questions

    # Lineage, one pass: components in reverse topological order see upstream first.
    edges = {k: [t for t in graph.upstream.get(k, ()) if t in nodes] for k in nodes}
    reaches_source: dict[str, bool] = {}
    unsourced: dict[str, list[str]] = {}  # DataSources upstream without a declared origin
    for component in strongly_connected(sorted(nodes), edges):
        members = set(component)
        reach = False
        missing: set[str] = set()
        for key in component:
            node = nodes[key]
            if node.kind == "DataSource":
                reach = True
                if not node.spec.get("origin"):
                    missing.add(key)
            for up in edges[key]:
                if up not in members:
                    reach = reach or reaches_source[up]
                    missing.update(unsourced[up])
        missing_sorted = sorted(missing)
        for key in component:
            reaches_source[key] = reach
            unsourced[key] = missing_sorted
        if len(component) > 1 or component[0] in edges[component[0]]:
            cycle = sorted(component)
            findings.append(Finding(cycle[0], "cycle", "dependency cycle: " + " -> ".join(cycle)))

    outcomes = [k for k, n in nodes.items() if n.kind == "BusinessOutcome"]
    serves_outcome = _upstream_closure(outcomes, edges)

    for key in sorted(nodes):
        node = nodes[key]
        if asks(node, kinds.OWNER):
            owner = graph.owner_of(key)
            if owner is None:
                findings.append(Finding(key, "owner", "no owner declared (spec.owner)"))
            elif owner not in nodes:
                findings.append(Finding(key, "owner", f"owner {owner} does not exist"))
        if asks(node, kinds.LINEAGE):
            if node.kind == "DataSource":
                if not node.spec.get("origin"):
                    findings.append(
                        Finding(key, "lineage", "data source declares no origin (spec.origin)")
                    )
            elif not reaches_source[key]:
                findings.append(Finding(key, "lineage", "no upstream path reaches a DataSource"))
            elif unsourced[key]:
                shown = ", ".join(unsourced[key][:3]) + (" ..." if len(unsourced[key]) > 3 else "")
                findings.append(
                    Finding(key, "lineage", f"upstream data source without an origin: {shown}")
                )
        if asks(node, kinds.GOVERNANCE) and not node.spec.get("governance"):
            parent = graph.system_of(key)
            system_node = nodes.get(parent) if parent else None
            if not (system_node and system_node.spec.get("governance")):
                findings.append(
                    Finding(key, "governance", "no governance control, on it or its system")
                )
        if asks(node, kinds.ROLLBACK):
            findings.extend(_rollback(graph, node))
        rollback_reported = asks(node, kinds.ROLLBACK)  # the rollback question covers its target
        for rel in graph.by_source.get(key, ()):
            if rel.type == "rollbackTo" and rollback_reported:
                continue
            if rel.target not in nodes and rel.type not in ANSWERED_ELSEWHERE:
                findings.append(
                    Finding(key, "reference", f"{rel.type} {rel.target} does not exist")
                )
        kind_def = has[key]
        if (
            kind_def
            and kind_def.in_map
            and node.kind != "BusinessOutcome"
            and key not in serves_outcome
        ):
            findings.append(Finding(key, "orphan", "no business outcome depends on it"))

    if system is not None:
        scope = system_members(graph, system)
        findings = [f for f in findings if f.subject in scope or _cycle_touches(f, scope)]
    order = {c: i for i, c in enumerate(CHECKS)}
    findings.sort(key=lambda f: (f.subject, order[f.check], f.message))
    return Report(len(nodes), findings)


def _cycle_touches(finding: Finding, scope: set[str]) -> bool:
    if finding.check != "cycle":
        return False
    return any(m in scope for m in finding.message.split(": ", 1)[1].split(" -> "))


def _rollback(graph: CatalogGraph, node: Node) -> list[Finding]:
    rollback = node.spec.get("rollback")
    if not rollback:
        return [Finding(node.key, "rollback", "no rollback path (spec.rollback)")]
    targets = graph.targets(node.key, "rollbackTo")
    if targets and targets[0] not in graph.nodes:
        return [Finding(node.key, "rollback", f"rollback target {targets[0]} does not exist")]
    return []


def _upstream_closure(starts: list[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for up in edges.get(queue.popleft(), ()):
            if up not in seen:
                seen.add(up)
                queue.append(up)
    return seen
