"""OpenLineage run events for a governed pipeline run, as plain dicts (no client, no transport).

An event follows the OpenLineage 2-0-2 RunEvent: eventType, eventTime, run (runId, facets),
job (namespace, name, facets), inputs and outputs (namespace, name, facets), producer and
schemaURL. A dataset's Keel digest travels as its `datasetVersion` facet, the spec's own
place for the version of the data a run read or wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlparse

from keel.errors import InputError

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
DATASET_VERSION_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
Dataset = tuple[str, str, str | None]  # namespace, name, digest ("sha256:...") or None


def run_event(
    event_type: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
    *,
    run_id: str,
    job_namespace: str,
    job_name: str,
    inputs: Sequence[Dataset] = (),
    outputs: Sequence[Dataset] = (),
    event_time: str,
    producer: str,
) -> dict[str, Any]:
    """One RunEvent; InputError when an argument cannot stand in a valid event."""
    problems = []
    if event_type not in EVENT_TYPES:
        problems.append(f"event_type: one of {', '.join(EVENT_TYPES)}, not {event_type!r}")
    try:
        uuid.UUID(run_id)
    except (TypeError, ValueError, AttributeError):
        problems.append(f"run_id: a UUID, not {run_id!r}")
    if not _timestamp(event_time):
        problems.append(
            f"event_time: an ISO 8601 date and time with its offset, not {event_time!r}"
        )
    if not (isinstance(producer, str) and urlparse(producer).scheme):
        problems.append(f"producer: a URI, not {producer!r}")
    for field, value in (("job_namespace", job_namespace), ("job_name", job_name)):
        if not (isinstance(value, str) and value):
            problems.append(f"{field}: a non-empty string")
    for field, datasets in (("inputs", inputs), ("outputs", outputs)):
        for i, dataset in enumerate(datasets):
            if not (
                len(dataset) == 3
                and all(isinstance(part, str) and part for part in dataset[:2])
                and (dataset[2] is None or isinstance(dataset[2], str))
            ):
                problems.append(f"{field}[{i}]: (namespace, name, digest or None)")
    if problems:
        raise InputError(problems)
    return {
        "eventType": event_type,
        "eventTime": event_time,
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": job_namespace, "name": job_name, "facets": {}},
        "inputs": [{**_dataset(d, producer), "inputFacets": {}} for d in inputs],
        "outputs": [{**_dataset(d, producer), "outputFacets": {}} for d in outputs],
        "producer": producer,
        "schemaURL": SCHEMA_URL,
    }


def _dataset(dataset: Dataset, producer: str) -> dict[str, Any]:
    namespace, name, digest = dataset
    facets = {}
    if digest:
        facets["datasetVersion"] = {
            "_producer": producer,
            "_schemaURL": DATASET_VERSION_SCHEMA_URL,
            "datasetVersion": digest,
        }
    return {"namespace": namespace, "name": name, "facets": facets}


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value.upper():
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None
