"""`map impact` walks the store level by level; checked against an in-memory search."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from keel.catalog import service
from keel.catalog.impact import impact
from keel.errors import NotFoundError
from tests.catalog.graphs import catalogs, graph_of, parse
from tests.catalog.helpers import complete_system


def test_downstream_blast_radius_with_owners_and_outcomes(demo_ws):
    with demo_ws.read() as session:
        result = impact(session, "datasource:german-credit")
    down = {r.key: r for r in result.reached}
    assert set(down) == {
        "featureset:default/credit-features",
        "model:default/credit-scorer",
        "model:default/credit-scorecard",
        "api:default/credit-decision-api",
        "businessoutcome:default/approval-rate",
    }
    assert down["featureset:default/credit-features"].depth == 1
    assert down["businessoutcome:default/approval-rate"].depth == 4
    assert result.outcomes_at_risk == ["businessoutcome:default/approval-rate"]
    assert result.owners == ["group:default/ml-platform", "group:default/risk-analytics"]


def test_upstream_and_both(demo_ws):
    with demo_ws.read() as session:
        up = impact(session, "api:credit-decision-api", "up")
        both = impact(session, "credit-scorer", "both")  # a unique name needs no kind
    assert {r.key for r in up.reached} == {
        "model:default/credit-scorer",
        "model:default/credit-scorecard",
        "featureset:default/credit-features",
        "datasource:default/german-credit",
    }
    assert up.outcomes_at_risk == []
    assert {r.direction for r in both.reached} == {"up", "down"}


def test_unknown_and_ambiguous_refs(demo_ws):
    with demo_ws.read() as session, pytest.raises(NotFoundError, match="no such entity"):
        impact(session, "model:nothing")
    with demo_ws.read() as session, pytest.raises(NotFoundError):
        impact(session, "")


def naive_reach(graph, root, way):
    edges = graph.downstream if way == "down" else graph.upstream
    depth = {root: 0}
    frontier = [root]
    while frontier:
        nxt = []
        for k in frontier:
            for other in edges.get(k, []):
                if other not in depth:
                    depth[other] = depth[k] + 1
                    nxt.append(other)
        frontier = nxt
    del depth[root]
    return depth


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=catalogs(max_nodes=10))
def test_store_walk_agrees_with_an_in_memory_search(sqlite_ws, admin, docs):
    entities = parse(docs)
    with sqlite_ws.write(admin) as session:
        from sqlalchemy import delete

        from keel.catalog.tables import EntityRow

        session.execute(delete(EntityRow))
        service.apply(session, admin, entities)
    graph = graph_of(entities)
    for key in graph.nodes:
        if key.startswith("group:"):
            continue
        with sqlite_ws.read() as session:
            result = impact(session, key, "both")
        for way in ("down", "up"):
            got = {r.key: r.depth for r in result.reached if r.direction == way}
            assert got == naive_reach(graph, key, way)


def test_complete_system_upstream_reaches_its_source(sqlite_ws, admin):
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, parse(complete_system()))
    with sqlite_ws.read() as session:
        result = impact(session, "businessoutcome:kpi", "up")
    assert "datasource:default/src" in {r.key for r in result.reached}
