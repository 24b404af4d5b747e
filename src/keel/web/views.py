"""What the pages show, computed from the service functions (no HTTP here)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy.orm import Session

from keel import audit
from keel.catalog import kinds
from keel.catalog.graph import CatalogGraph, load_graph
from keel.catalog.render import map_view
from keel.catalog.validate import Report, validate


@dataclass
class Snapshot:
    graph: CatalogGraph
    report: Report
    by_subject: dict[str, list]


_cache: dict[str, tuple[int, Snapshot]] = {}
_lock = Lock()


def snapshot(session: Session, cache_key: str) -> Snapshot:
    """The graph and its validation, recomputed only when the audit log has grown."""
    version = audit.head(session)
    with _lock:
        cached = _cache.get(cache_key)
        if cached and cached[0] == version:
            return cached[1]
    graph = load_graph(session)
    report = validate(graph)
    by_subject: dict[str, list] = defaultdict(list)
    for finding in report.findings:
        by_subject[finding.subject].append(finding)
    snap = Snapshot(graph, report, by_subject)
    with _lock:
        _cache[cache_key] = (version, snap)
    return snap


def href(key: str) -> str:
    kind, rest = key.split(":", 1)
    namespace, name = rest.split("/", 1)
    return f"/entities/{kind}/{namespace}/{name}"


def system_href(key: str) -> str:
    return href(key).replace("/entities/system/", "/systems/", 1)


def systems_overview(snap: Snapshot) -> list[dict[str, Any]]:
    members_of: dict[str, set[str]] = defaultdict(set)
    for rel in snap.graph.relations:  # one pass, not one per system
        if rel.type == "partOf" and rel.target.startswith("system:"):
            members_of[rel.target].add(rel.source)
    rows = []
    for key, node in sorted(snap.graph.nodes.items()):
        if node.kind != "System":
            continue
        members = members_of[key] | {key}
        findings = [f for m in members for f in snap.by_subject.get(m, ())]
        counts = Counter(f.check for f in findings)
        rows.append(
            {
                "key": key,
                "title": node.title,
                "description": node.body["metadata"].get("description", ""),
                "owner": snap.graph.owner_of(key),
                "nodes": len(members) - 1,
                "findings": len(findings),
                "counts": dict(sorted(counts.items())),
            }
        )
    return rows


def system_graph(snap: Snapshot, system: str) -> dict[str, Any]:
    view = map_view(snap.graph, system)
    for node in view["nodes"]:
        findings = snap.by_subject.get(node["ref"], [])
        node["status"] = "missing" if not node["exists"] else ("gaps" if findings else "ok")
        node["findings"] = [f"{f.check}: {f.message}" for f in findings]
        node["href"] = href(node["ref"]) if node["exists"] else None
    return view


def catalog_aggregate(snap: Snapshot) -> dict[str, Any]:
    """Systems as nodes sized by their members, edges counting lineage across systems."""
    graph = snap.graph
    system_of = {
        k: (k if n.kind == "System" else graph.system_of(k)) or "(no system)"
        for k, n in graph.nodes.items()
    }
    sizes = Counter(
        system_of[k] for k, n in graph.nodes.items() if n.kind_def and n.kind_def.in_map
    )
    gaps = Counter(system_of.get(f.subject, "(no system)") for f in snap.report.findings)
    edges: Counter[tuple[str, str]] = Counter()
    for rel in graph.relations:
        if (
            rel.type in kinds.LINEAGE_RELATIONS
            and rel.source in graph.nodes
            and rel.target in graph.nodes
        ):
            a, b = system_of[rel.target], system_of[rel.source]
            if a != b:
                edges[(a, b)] += 1
    nodes = [
        {
            "id": s,
            "size": n,
            "gaps": gaps.get(s, 0),
            "href": system_href(s) if s.startswith("system:") else None,
        }
        for s, n in sorted(sizes.items())
    ]
    return {
        "nodes": nodes,
        "edges": [{"from": a, "to": b, "count": c} for (a, b), c in sorted(edges.items())],
    }


def node_questions(snap: Snapshot, key: str) -> list[dict[str, Any]]:
    """The four questions of one node, each with its answer or what is missing."""
    graph = snap.graph
    node = graph.nodes[key]
    kind_def = node.kind_def
    asked = kind_def.questions if kind_def else frozenset()
    findings = snap.by_subject.get(key, [])
    out = []
    system = graph.system_of(key)
    system_node = graph.nodes.get(system) if system else None
    answers = {
        "owner": graph.owner_of(key) or "none declared",
        "lineage": ", ".join(graph.upstream.get(key, []))
        or node.spec.get("origin")
        or "no upstream",
        "governance": ", ".join(node.spec.get("governance") or [])
        or (
            f"from {system}: " + ", ".join(system_node.spec.get("governance") or [])
            if system_node and system_node.spec.get("governance")
            else "no controls"
        ),
        "rollback": _rollback_text(node.spec.get("rollback")),
    }
    for question in (kinds.OWNER, kinds.LINEAGE, kinds.GOVERNANCE, kinds.ROLLBACK):
        problems = [f.message for f in findings if f.check == question]
        out.append(
            {
                "question": question,
                "asked": question in asked,
                "ok": question in asked and not problems,
                "answer": answers[question],
                "problems": problems,
            }
        )
    return out


def _rollback_text(rollback: object) -> str:
    if not rollback:
        return "none"
    if not isinstance(rollback, dict):
        return str(rollback)
    text = rollback.get("strategy", "?")
    if rollback.get("target"):
        text += f" to {rollback['target']}"
    if rollback.get("runbook"):
        text += f" ({rollback['runbook']})"
    return text
