"""`map show`: the lineage graph as Mermaid, Graphviz dot or JSON.

Edges are drawn in the direction data and decisions flow: upstream -> downstream.
"""

from __future__ import annotations

import json

from keel.catalog.graph import CatalogGraph, system_members
from keel.catalog.kinds import LINEAGE_RELATIONS

FORMATS = ("mermaid", "dot", "json")
SHAPES = {  # Mermaid node shapes by kind
    "DataSource": ("[(", ")]"),
    "FeatureSet": ("[[", "]]"),
    "Model": ("{{", "}}"),
    "API": ("([", "])"),
    "BusinessOutcome": ("((", "))"),
}


def map_view(graph: CatalogGraph, system: str | None = None) -> dict:
    """The nodes of the map (all, or one system's plus their direct neighbours) and flows."""
    map_nodes = {k for k, n in graph.nodes.items() if n.kind_def and n.kind_def.in_map}
    members = map_nodes if system is None else system_members(graph, system) & map_nodes
    edges = sorted(
        {
            (r.target, r.source)
            for r in graph.relations
            if r.type in LINEAGE_RELATIONS and (r.source in members or r.target in members)
        }
    )
    keys = sorted(members | {k for e in edges for k in e})
    nodes = []
    for key in keys:
        node = graph.nodes.get(key)
        nodes.append(
            {
                "ref": key,
                "kind": node.kind if node else key.split(":", 1)[0],
                "title": node.title if node else key,
                "system": graph.system_of(key) if node else None,
                "owner": graph.owner_of(key) if node else None,
                "exists": node is not None,
                "external": key not in members,
            }
        )
    return {"system": system, "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in edges]}


def render(view: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(view, indent=2, sort_keys=True)
    ids = {n["ref"]: f"n{i}" for i, n in enumerate(view["nodes"])}
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        for n in view["nodes"]:
            left, right = SHAPES.get(n["kind"], ("[", "]"))
            label = _escape_mermaid(f"{n['kind']}: {n['title']}")
            lines.append(f'  {ids[n["ref"]]}{left}"{label}"{right}')
            if not n["exists"]:
                lines.append(f"  class {ids[n['ref']]} missing")
        lines.extend(f"  {ids[e['from']]} --> {ids[e['to']]}" for e in view["edges"])
        lines.append("  classDef missing stroke-dasharray: 5 5,stroke:#c00")
        return "\n".join(lines)
    if fmt == "dot":
        lines = ["digraph keel {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
        for n in view["nodes"]:
            style = ', style=dashed, color="#cc0000"' if not n["exists"] else ""
            lines.append(
                f"  {_quote(n['ref'])} [label={_quote(n['kind'] + ': ' + n['title'])}{style}];"
            )
        lines.extend(f"  {_quote(e['from'])} -> {_quote(e['to'])};" for e in view["edges"])
        lines.append("}")
        return "\n".join(lines)
    raise ValueError(f"unknown format {fmt!r}")


def _escape_mermaid(text: str) -> str:
    return text.replace('"', "#quot;")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
