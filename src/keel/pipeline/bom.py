"""A release as a CycloneDX 1.6 ML-BOM: the model with its model card, and the data it rests on.

The facts come from the release's signed statements (the artifact digest, the training data
by digest, parameters, benchmark figures) and from the system map (descriptions, owners,
the system's purpose, data origins and consent). The BOM is stable: its serial number and
timestamp come from the release, so exporting twice gives the same bytes.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy.orm import Session

from keel.audit import attest, intoto
from keel.catalog.queries import get_entity
from keel.errors import NotFoundError
from keel.pipeline.releases import Release, get_release
from keel.version import __version__

SPEC_VERSION = "1.6"
DATA_KINDS = ("DataSource", "FeatureSet")
# spec.type of a Model -> (CycloneDX learning approach, task)
APPROACHES = {
    "classifier": ("supervised", "classification"),
    "regressor": ("supervised", "regression"),
    "ranker": ("supervised", "ranking"),
    "forecaster": ("supervised", "forecasting"),
    "clusterer": ("unsupervised", "clustering"),
    "embedder": ("self-supervised", "embedding"),
    "retriever": ("self-supervised", "retrieval"),
    "llm": ("self-supervised", "text-generation"),
}


def release_bom(session: Session, ref: str) -> dict[str, Any]:
    release = get_release(session, ref)
    by_type = {s["predicateType"]: s["predicate"] for s in release.statements()}
    provenance = by_type[intoto.SLSA_PROVENANCE_V1]
    entities = {}
    for key in [release.model, release.system] + [
        d["name"] for d in provenance["buildDefinition"]["resolvedDependencies"] if ":" in d["name"]
    ]:
        if key:
            # an entity removed from the map since: the statements still speak for it
            with contextlib.suppress(NotFoundError):
                entities[key] = get_entity(session, key)
    return ml_bom(release, provenance, by_type[attest.RELEASE_V1], entities)


def ml_bom(
    release: Release,
    provenance: dict[str, Any],
    predicate: dict[str, Any],
    entities: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The BOM of a release (pure: all inputs given)."""
    data = [
        _data_component(d, entities.get(d["name"]))
        for d in provenance["buildDefinition"]["resolvedDependencies"]
        if d.get("annotations", {}).get("kind") in DATA_KINDS
    ]
    model = _model_component(release, provenance, predicate, entities, [c["bom-ref"] for c in data])
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid5(
            uuid.NAMESPACE_URL, f"https://keel.dev/{release.name}/{release.artifact_digest}"
        ).urn,
        "version": 1,
        "metadata": {
            "timestamp": release.created_at,
            "tools": {
                "components": [{"type": "application", "name": "keel", "version": __version__}]
            },
            "component": model,
            "properties": [{"name": "keel:release", "value": release.name}],
        },
        "components": data,
        "dependencies": [
            {"ref": model["bom-ref"], "dependsOn": [c["bom-ref"] for c in data]},
            *({"ref": c["bom-ref"]} for c in data),
        ],
    }


def _hashes(rd: dict[str, Any]) -> list[dict[str, str]]:
    value = rd.get("digest", {}).get("sha256")
    return [{"alg": "SHA-256", "content": value}] if value else []


def _owner(entity: dict[str, Any] | None) -> str | None:
    return (entity or {}).get("entity", {}).get("spec", {}).get("owner")


def _model_component(release, provenance, predicate, entities, datasets) -> dict[str, Any]:
    entity = entities.get(release.model, {}).get("entity", {})
    spec = entity.get("spec", {})
    metadata = entity.get("metadata", {})
    parameters = provenance["buildDefinition"]["externalParameters"].get("parameters", {})
    model_parameters: dict[str, Any] = {}
    approach = APPROACHES.get(str(spec.get("type", "")).lower())
    if approach:
        model_parameters["approach"] = {"type": approach[0]}
        model_parameters["task"] = approach[1]
    elif spec.get("type"):
        model_parameters["task"] = str(spec["type"])
    if isinstance(parameters.get("architecture"), str):
        model_parameters["modelArchitecture"] = parameters["architecture"]
    if datasets:
        model_parameters["datasets"] = [{"ref": ref} for ref in datasets]
    card: dict[str, Any] = {"bom-ref": f"{release.name}#model-card"}
    if model_parameters:
        card["modelParameters"] = model_parameters
    metrics = [
        {
            "type": b["name"],
            "value": _number(b["value"]) + (f" {b['unit']}" if b.get("unit") else ""),
        }
        for b in predicate["benchmarks"]
    ]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    system = entities.get(release.system or "", {}).get("entity", {})
    use_cases = [
        text
        for text in (
            system.get("spec", {}).get("purpose"),
            system.get("metadata", {}).get("description"),
        )
        if text
    ]
    if use_cases:
        card["considerations"] = {"useCases": use_cases}
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": release.name,
        "name": release.model.split("/", 1)[1],
        "version": str(release.version),
        "hashes": [{"alg": "SHA-256", "content": release.artifact_digest.partition(":")[2]}],
        "modelCard": card,
        "properties": [
            {"name": name, "value": value}
            for name, value in (
                ("keel:artifact", release.artifact),
                ("keel:system", release.system),
                ("keel:owner", spec.get("owner")),
                ("keel:lifecycle", spec.get("lifecycle")),
                ("keel:created-by", release.created_by),
            )
            if value
        ],
    }
    description = metadata.get("description") or metadata.get("title")
    if description:
        component["description"] = description
    return component


def _data_component(rd: dict[str, Any], found: dict[str, Any] | None) -> dict[str, Any]:
    entity = (found or {}).get("entity", {})
    metadata, spec = entity.get("metadata", {}), entity.get("spec", {})
    dataset: dict[str, Any] = {
        "type": "dataset",
        "name": metadata.get("title") or rd["name"],
    }
    if metadata.get("description"):
        dataset["description"] = metadata["description"]
    links = [
        link["url"]
        for link in metadata.get("links", [])
        if isinstance(link, dict) and link.get("url")
    ]
    if links:
        dataset["contents"] = {"url": links[0]}
    consent = spec.get("consent") or {}
    if consent.get("basis"):
        dataset["classification"] = str(consent["basis"])
    owner = _owner(found)
    if owner:
        dataset["governance"] = {"owners": [{"organization": {"name": owner}}]}
    component: dict[str, Any] = {
        "type": "data",
        "bom-ref": rd["name"],
        "name": rd["name"].split("/", 1)[-1],
        "data": [dataset],
    }
    hashes = _hashes(rd)
    if hashes:
        component["hashes"] = hashes
    properties = [{"name": "keel:kind", "value": rd["annotations"]["kind"]}]
    if rd["annotations"].get("origin"):
        properties.append({"name": "keel:origin", "value": rd["annotations"]["origin"]})
    purposes = consent.get("purposes") or []
    if purposes:
        properties.append({"name": "keel:consent-purposes", "value": ", ".join(map(str, purposes))})
    component["properties"] = properties
    return component


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
