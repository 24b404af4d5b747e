"""Small builders for catalog YAML in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def entity(kind: str, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict:
    keel = kind in ("DataSource", "FeatureSet", "Model", "BusinessOutcome")
    return {
        "apiVersion": "keel.dev/v1" if keel else "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec if spec is not None else {},
    }


def write(path: Path, *entities: dict) -> Path:
    path.write_text(yaml.safe_dump_all(entities, sort_keys=False))
    return path


def team(name: str = "team-a") -> dict:
    return entity("Group", name, {"type": "team", "children": []})


def user(name: str, *groups: str) -> dict:
    return entity("User", name, {"memberOf": list(groups)})


def complete_system() -> list[dict]:
    """A small map where every node answers every question."""
    return [
        team(),
        user("pat", "team-a"),
        entity(
            "System",
            "sys",
            {
                "owner": "team-a",
                "governance": ["risk-approval"],
                "pod": {
                    "productOwner": "pat",
                    "mlEngineer": "pat",
                    "dataSteward": "pat",
                    "riskLead": "pat",
                    "changeManager": "pat",
                },
            },
        ),
        entity("DataSource", "src", {"owner": "team-a", "system": "sys", "origin": "vendor feed"}),
        entity(
            "FeatureSet",
            "feat",
            {
                "owner": "team-a",
                "system": "sys",
                "dependsOn": ["datasource:src"],
                "rollback": {"strategy": "previous-version"},
            },
        ),
        entity(
            "Model",
            "model",
            {
                "owner": "team-a",
                "system": "sys",
                "dependsOn": ["featureset:feat"],
                "rollback": {"strategy": "fallback", "target": "model:baseline"},
            },
        ),
        entity(
            "Model",
            "baseline",
            {
                "owner": "team-a",
                "system": "sys",
                "dependsOn": ["featureset:feat"],
                "rollback": {"strategy": "disable"},
            },
        ),
        entity(
            "API",
            "api",
            {
                "type": "openapi",
                "lifecycle": "production",
                "owner": "team-a",
                "system": "sys",
                "definition": "openapi: 3.0.0",
                "dependsOn": ["model:model", "model:baseline"],
                "rollback": {"strategy": "previous-version"},
            },
        ),
        entity(
            "BusinessOutcome",
            "kpi",
            {"owner": "team-a", "system": "sys", "kpi": "approval rate", "measuredBy": ["api:api"]},
        ),
    ]
