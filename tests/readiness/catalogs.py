"""Crafted catalogs for the readiness tests: a complete system, and copies with one defect each."""

from __future__ import annotations

import copy
from collections.abc import Callable

import yaml

from keel.catalog import service
from keel.catalog.entity import Entity
from tests.catalog.helpers import entity, team, user

PEOPLE = ("po", "eng1", "eng2", "steward", "risk", "cm", "privacy-officer", "outsider")


def people() -> list[dict]:
    return [team(), *(user(p, "team-a") for p in PEOPLE)]


def system(name: str, *, min_score: float | None = None) -> list[dict]:
    """A system that answers every catalog question: only pipeline state and reviews lack."""
    policy = {
        "owner": "team-a",
        "appliesTo": {"systems": [name]},
        "evidence": {"data": ["quality"], "model": ["fairness"], "eval": ["evaluation"]},
        "approvals": {"staging": ["mlEngineer"], "production": ["riskLead"]},
        "separationOfDuties": {"approverIsNotAuthor": True, "distinctApprovers": 1},
    }
    if min_score is not None:
        policy["readiness"] = {"minScore": min_score}
    return [
        entity(
            "System",
            name,
            {
                "owner": "team-a",
                "governance": ["risk-approval"],
                "pod": {
                    "productOwner": "po",
                    "mlEngineer": ["eng1", "eng2"],
                    "dataSteward": "steward",
                    "riskLead": "risk",
                    "changeManager": "cm",
                },
                "changePlan": {
                    "training": "Two sessions before launch.",
                    "communication": "A bulletin.",
                    "workflowChanges": "Referrals go to a queue.",
                },
            },
        ),
        entity(
            "DataSource",
            f"{name}-src",
            {"owner": "team-a", "system": name, "origin": "vendor feed", "refresh": "nightly"},
        ),
        entity(
            "FeatureSet",
            f"{name}-feat",
            {
                "owner": "team-a",
                "system": name,
                "dependsOn": [f"datasource:{name}-src"],
                "rollback": {"strategy": "previous-version"},
            },
        ),
        entity(
            "Model",
            f"{name}-model",
            {
                "owner": "team-a",
                "system": name,
                "dependsOn": [f"featureset:{name}-feat"],
                "rollback": {"strategy": "previous-version"},
            },
        ),
        entity(
            "API",
            f"{name}-api",
            {
                "type": "openapi",
                "lifecycle": "production",
                "owner": "team-a",
                "system": name,
                "definition": "openapi: 3.0.0",
                "dependsOn": [f"model:{name}-model"],
                "rollback": {"strategy": "disable"},
            },
        ),
        entity(
            "BusinessOutcome",
            f"{name}-kpi",
            {"owner": "team-a", "system": name, "measuredBy": [f"api:{name}-api"]},
        ),
        {
            "apiVersion": "keel.dev/v1",
            "kind": "Policy",
            "metadata": {"name": f"{name}-policy"},
            "spec": policy,
        },
    ]


def _find(docs: list[dict], kind: str) -> dict:
    return next(d for d in docs if d["kind"] == kind)


def _drop(docs: list[dict], kind: str) -> None:
    docs.remove(_find(docs, kind))


def _spec(kind: str, **changes) -> Callable[[list[dict]], None]:
    def mutate(docs: list[dict]) -> None:
        spec = _find(docs, kind)["spec"]
        for key, value in changes.items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value

    return mutate


def _pod(role: str, value) -> Callable[[list[dict]], None]:
    return lambda docs: _find(docs, "System")["spec"]["pod"].__setitem__(role, value)


def _no_sources(docs: list[dict]) -> None:
    _drop(docs, "DataSource")
    _find(docs, "FeatureSet")["spec"]["dependsOn"] = []


def _no_governance(docs: list[dict]) -> None:
    _find(docs, "System")["spec"].pop("governance")


def _no_training(docs: list[dict]) -> None:
    _find(docs, "System")["spec"]["changePlan"].pop("training")


# name -> (the defect, the checks it fails besides those a bare catalog always fails)
DEFECTS: dict[str, tuple[Callable[[list[dict]], None], set[str]]] = {
    "unowned-source": (
        _spec("DataSource", owner="group:nobody"),
        {"data.owned", "ownership.nodes"},
    ),
    "no-origin": (_spec("DataSource", origin=None), {"data.lineage"}),
    "no-refresh": (_spec("DataSource", refresh=None), {"data.refresh"}),
    "no-sources": (_no_sources, {"data.owned", "data.refresh", "data.lineage"}),
    "no-risk-lead": (_pod("riskLead", []), {"ownership.riskLead"}),
    "ghost-product-owner": (_pod("productOwner", "ghost"), {"ownership.productOwner"}),
    "unowned-model": (_spec("Model", owner=None), {"ownership.nodes"}),
    "no-rollback": (_spec("Model", rollback=None), {"infrastructure.rollback"}),
    "no-policy": (lambda docs: _drop(docs, "Policy"), {"risk.policy"}),
    "no-approvals": (_spec("Policy", approvals={}), {"risk.policy"}),
    "no-governance": (_no_governance, {"risk.governance"}),
    "no-training": (_no_training, {"change.training"}),
    "ghost-change-manager": (
        _pod("changeManager", "ghost"),
        {"ownership.changeManager", "change.manager"},
    ),
}

# What a catalog alone cannot satisfy: pipeline state, reviews, and checks not available yet.
ALWAYS = {
    "data.quality",
    "data.drift",
    "infrastructure.staging",
    "infrastructure.production",
    "infrastructure.rehearsal",
    "risk.privacy",
    "risk.legal",
    "risk.security",
}


def defective(name: str) -> list[dict]:
    docs = copy.deepcopy(system(name))
    DEFECTS[name][0](docs)
    return docs


def to_entities(docs: list[dict]) -> list[Entity]:
    return service.load_text(yaml.safe_dump_all(docs, sort_keys=False), "crafted.yaml")


def apply(ws, actor, docs: list[dict]) -> None:
    with ws.write(actor) as session:
        service.apply(session, actor, to_entities(docs))
