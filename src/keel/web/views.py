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
from keel.gateway.routes import Route
from keel.guard.policy import SCANNERS, STAGES, parse_policy
from keel.web.charts import Series, chart


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
            "title": graph.nodes[s].title if s in graph.nodes else s,
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
    rollback = node.spec.get("rollback")
    strategy = rollback.get("strategy", "?") if isinstance(rollback, dict) else rollback
    inherited = (
        not node.spec.get("governance") and system_node and system_node.spec.get("governance")
    )
    # each answer: `refs`, entities written by name and linked (after `lead`), or else
    # `answer` in words; `via`, the node an inherited answer comes from; `note`, an aside
    answers: dict[str, dict[str, Any]] = {
        kinds.OWNER: {"refs": graph.targets(key, "ownedBy")[:1], "answer": "none declared"},
        kinds.LINEAGE: {
            "refs": sorted(graph.upstream.get(key, [])),
            "answer": node.spec.get("origin") or "no upstream",
        },
        kinds.GOVERNANCE: {
            "answer": ", ".join(node.spec.get("governance") or [])
            or ", ".join((system_node.spec.get("governance") or []) if system_node else [])
            or "no controls",
            "via": system if inherited else None,
        },
        kinds.ROLLBACK: {
            "refs": graph.targets(key, "rollbackTo"),
            "lead": f"{strategy} to",
            "answer": str(strategy) if rollback else "none",
            "note": rollback.get("runbook") if isinstance(rollback, dict) else None,
        },
    }
    for question in (kinds.OWNER, kinds.LINEAGE, kinds.GOVERNANCE, kinds.ROLLBACK):
        problems = [f.message for f in findings if f.check == question]
        out.append(
            {
                "question": question,
                "asked": question in asked,
                "ok": question in asked and not problems,
                "refs": [],
                "lead": "",
                "via": None,
                "note": None,
                **answers[question],
                "problems": problems,
            }
        )
    return out


def route_row(route: Route) -> dict[str, Any]:
    """A gateway route as its pages show it: limits and guards in words."""
    limits = [f"{route.rpm:,} rpm" if route.rpm else "", f"{route.tpm:,} tpm" if route.tpm else ""]
    limits += [f"timeout {route.timeout:g} s" if route.timeout else ""]
    limits += [f"fails {route.limits_fail} without the limit store"]
    if route.guard is False:
        guards = "off"
    else:
        policy = parse_policy(route.guard or None)
        stages = []
        for stage in STAGES:
            rules = policy.stage(stage)
            by_action: dict[str, list[str]] = defaultdict(list)
            for scanner in SCANNERS:
                by_action[rules.action(scanner)].append(scanner)
            said = [
                f"{VERBS[a]} {', '.join(SCANNER_NAMES.get(n, n) for n in by_action[a])}"
                for a in VERBS
                if by_action[a]
            ]
            stages.append(f"{stage}: {'; '.join(said)}")
        guards = ("custom — " if route.guard else "default — ") + " · ".join(stages)
    if route.capture:
        guards += " · captures payloads (redacted)"
    return {
        **route.as_dict(),
        "limits": " · ".join(x for x in limits if x),
        "guards": guards,
    }


VERBS = {"block": "blocks", "redact": "redacts", "allow": "records"}
SCANNER_NAMES = {"pii": "PII", "unicode": "hidden Unicode"}


def governed_route_row(route: Route, serving: tuple[str, ...], ungoverned: bool) -> dict[str, Any]:
    """`route_row` with what governs the route, as the gateway page shows it: `serving` the
    releases promoted where it routes, `ungoverned` whether it is a production route with
    none (keel.gateway.config.Snapshot.ungoverned)."""
    if serving:
        governance = "serves " + ", ".join(serving)
    elif not ungoverned:
        governance = "no release promoted here"
    elif route.allow_ungoverned:
        governance = "UNGOVERNED: no release in production; served (--allow-ungoverned)"
    else:
        governance = "refused: no release in production (403 ungoverned_endpoint)"
    return {**route_row(route), "governance": governance, "ungoverned": ungoverned}


def event_summary(event: audit.Event, most: int = 4) -> str:
    """What an event changed, in a line: the fields an update changed, or its first few
    plain details (digests shortened)."""
    details = event.details
    if details.get("changed"):
        return ", ".join(map(str, details["changed"]))
    said = []
    for name, value in details.items():
        if len(said) == most:
            break
        if isinstance(value, bool | int | float) or (isinstance(value, str) and value):
            text = str(value)
            if text.startswith("sha256:"):
                text = text[:19] + "…"
            said.append(f"{name}: {text[:80]}")
    return "; ".join(said)


def traffic_charts(traffic: dict[str, Any]) -> list[dict[str, Any]]:
    """The gateway's per-minute figures (`keel.gateway.figures.traffic_series`) as charts."""
    rows = traffic["series"]
    labels = [r["minute"][11:16] for r in rows]  # HH:MM, UTC
    span = f"per minute, {labels[0]} to {labels[-1]} UTC" if labels else "per minute"

    def series(name: str, field: str) -> Series:
        return Series(name, [r[field] for r in rows])

    return [
        {
            "id": "requests",
            "title": "Requests",
            "svg": chart(f"Requests {span}", labels, [series("requests", "requests")]),
        },
        {
            "id": "latency",
            "title": "Latency percentiles",
            "svg": chart(
                f"Latency percentiles {span}",
                labels,
                [series("p50", "p50"), series("p95", "p95"), series("p99", "p99")],
                kind="lines",
                unit="ms",
            ),
        },
        {
            "id": "refusals",
            "title": "Guard blocks and limit refusals",
            "svg": chart(
                f"Guard blocks and limit refusals {span}",
                labels,
                [series("guard blocks", "blocked"), series("limit refusals", "refused")],
            ),
        },
    ]
