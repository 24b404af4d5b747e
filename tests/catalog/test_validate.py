"""`map validate`: the four questions, references, cycles and orphans, against a naive oracle."""

from __future__ import annotations

from hypothesis import given, settings

from keel.catalog.validate import validate
from tests.catalog.graphs import catalogs, graph_of, parse
from tests.catalog.helpers import complete_system, entity


def findings(docs, **kwargs):
    return {(f.subject, f.check) for f in validate(graph_of(parse(docs)), **kwargs).findings}


def test_a_complete_system_is_clean():
    report = validate(graph_of(parse(complete_system())))
    assert report.clean, report.findings
    assert report.nodes == 9


def test_each_question_fails_on_its_own_gap():
    docs = complete_system()
    by_name = {d["metadata"]["name"]: d for d in docs}
    del by_name["feat"]["spec"]["owner"]  # owner: none declared
    by_name["baseline"]["spec"]["owner"] = "group:ghosts"  # owner: does not resolve
    del by_name["src"]["spec"]["origin"]  # lineage: source without origin
    by_name["sys"]["spec"]["governance"] = []  # governance now missing for model...
    by_name["model"]["spec"]["governance"] = ["fairness-review"]  # ...except where it has its own
    del by_name["api"]["spec"]["rollback"]  # rollback: none
    by_name["model"]["spec"]["rollback"]["target"] = "model:gone"  # rollback: dangling fallback
    got = findings(docs)
    assert ("featureset:default/feat", "owner") in got
    assert ("model:default/baseline", "owner") in got
    assert ("datasource:default/src", "lineage") in got
    assert ("model:default/model", "lineage") in got  # its upstream source has no origin
    assert ("model:default/baseline", "governance") in got
    assert ("model:default/model", "governance") not in got
    assert ("datasource:default/src", "governance") in got
    assert ("api:default/api", "rollback") in got
    assert ("model:default/model", "rollback") in got


def test_references_cycles_and_orphans():
    docs = complete_system()
    docs.append(entity("Model", "loop-a", {"owner": "team-a", "dependsOn": ["model:loop-b"]}))
    docs.append(
        entity(
            "Model",
            "loop-b",
            {"owner": "team-a", "dependsOn": ["model:loop-a", "datasource:nowhere"]},
        )
    )
    got = validate(graph_of(parse(docs))).findings
    cycle = [f for f in got if f.check == "cycle"]
    assert len(cycle) == 1 and "model:default/loop-a -> model:default/loop-b" in cycle[0].message
    assert any(f.check == "reference" and "datasource:default/nowhere" in f.message for f in got)
    orphans = {f.subject for f in got if f.check == "orphan"}
    assert orphans == {"model:default/loop-a", "model:default/loop-b"}


def test_system_filter_keeps_only_its_members():
    docs = complete_system()
    docs.append(entity("Model", "stray", {"owner": "team-a"}))
    scoped = findings(docs, system="system:default/sys")
    assert scoped == set()
    assert ("model:default/stray", "orphan") in findings(docs)


def naive(docs):
    """The questions answered the slow, obvious way: one search per node."""
    entities = parse(docs)
    graph = graph_of(entities)
    nodes = graph.nodes
    out = set()
    for key, node in nodes.items():
        kind_def = node.kind_def
        if node.kind in ("Group",):
            continue
        # lineage by depth-first search from this node
        seen, stack, sources = set(), [key], []
        while stack:
            k = stack.pop()
            if k in seen or k not in nodes:
                continue
            seen.add(k)
            if nodes[k].kind == "DataSource":
                sources.append(k)
            stack.extend(graph.upstream.get(k, []))
        if "lineage" in kind_def.questions:
            if node.kind == "DataSource":
                if not node.spec.get("origin"):
                    out.add((key, "lineage"))
            elif not sources or any(not nodes[s].spec.get("origin") for s in sources):
                out.add((key, "lineage"))
        if key in graph.upstream.get(key, []) or any(
            key in _reach(graph, up) for up in graph.upstream.get(key, []) if up in nodes
        ):
            out.add(("cycle-member", key))
        served = any(
            key in _reach(graph, o) for o, n in nodes.items() if n.kind == "BusinessOutcome"
        )
        if kind_def.in_map and node.kind != "BusinessOutcome" and not served:
            out.add((key, "orphan"))
    return out


def _reach(graph, start):
    seen, stack = set(), [start]
    while stack:
        k = stack.pop()
        if k in seen or k not in graph.nodes:
            continue
        seen.add(k)
        stack.extend(graph.upstream.get(k, []))
    return seen


@settings(max_examples=150, deadline=None)
@given(catalogs())
def test_one_pass_agrees_with_a_search_per_node(docs):
    report = validate(graph_of(parse(docs)))
    expected = naive(docs)
    got = {(f.subject, f.check) for f in report.findings if f.check in ("lineage", "orphan")}
    assert got == {e for e in expected if e[0] != "cycle-member"}
    in_cycles = {
        m
        for f in report.findings
        if f.check == "cycle"
        for m in f.message.split(": ", 1)[1].split(" -> ")
    }
    assert in_cycles == {e[1] for e in expected if e[0] == "cycle-member"}
