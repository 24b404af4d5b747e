"""A system's scope of the catalog answers its questions as the whole catalog does."""

from __future__ import annotations

import pytest
import yaml

from keel.catalog import service
from keel.catalog.graph import load_graph, load_system_scope
from keel.catalog.validate import validate
from tests.catalog.helpers import entity, team
from tests.conftest import EXAMPLES


def _tangled() -> list[dict]:
    """Two systems sharing data, with a cycle, dangling references and a missing owner."""
    return [
        team("t"),
        entity("System", "a", {"owner": "t"}),
        entity("System", "b", {"owner": "t", "governance": ["g"]}),
        entity("DataSource", "shared", {"owner": "t", "system": "b"}),  # no origin
        entity("DataSource", "raw", {"owner": "t", "system": "b", "origin": "x"}),
        entity("FeatureSet", "fb", {"system": "b", "dependsOn": ["datasource:raw"]}),
        entity(
            "FeatureSet",
            "fa",
            {"owner": "t", "system": "a", "dependsOn": ["datasource:shared", "featureset:fb"]},
        ),
        entity("Model", "m1", {"owner": "nobody", "system": "a", "dependsOn": ["model:m2"]}),
        entity(
            "Model",
            "m2",
            {
                "owner": "t",
                "system": "a",
                "dependsOn": ["model:m1", "featureset:fa"],
                "rollback": {"strategy": "fallback", "target": "model:gone"},
            },
        ),
        entity("BusinessOutcome", "kpi", {"owner": "t", "system": "b", "measuredBy": ["model:m2"]}),
    ]


@pytest.mark.parametrize("catalog", ["demo", "tangled"])
def test_scope_findings_equal_the_whole_catalogs(ws, admin, catalog):
    if catalog == "demo":
        entities = service.load([EXAMPLES / "demo" / "catalog"]).entities
    else:
        entities = service.load_text(yaml.safe_dump_all(_tangled()), "t.yaml")
    with ws.write(admin) as session:
        service.apply(session, admin, entities)
    with ws.read() as session:
        whole = load_graph(session)
        systems = [k for k, n in whole.nodes.items() if n.kind == "System"]
        for key in systems:
            scope = load_system_scope(session, key)
            expected = [f for f in validate(whole, system=key).findings if f.check != "orphan"]
            found = [f for f in validate(scope, system=key).findings if f.check != "orphan"]
            assert found == expected, key
            assert expected or catalog == "demo"
            assert set(scope.nodes) <= set(whole.nodes)
            if catalog == "demo":  # the other system's map stays out
                assert len(scope.nodes) < len(whole.nodes)
