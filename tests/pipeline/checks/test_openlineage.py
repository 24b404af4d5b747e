"""OpenLineage run events: the spec's required fields, and the official client's own rendering.

openlineage-python does not ship the JSON schema, so the required fields of the 2-0-2
RunEvent are checked here by hand; and the same event built with the client's generated
classes (attrs models of that schema) must serialise to exactly our dict.
"""

from __future__ import annotations

import json
import uuid

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset
from openlineage.client.serde import Serde

from keel.errors import InputError
from keel.pipeline.openlineage import run_event

PRODUCER = "https://github.com/keel-dev/keel/tree/0.1.0"
RUN_ID = "0190f1c2-3d4e-7f60-8a9b-0c1d2e3f4a5b"
DATA = ("file", "examples/demo/data/german_credit/german.data", "sha256:" + "ab" * 32)
MODEL = ("keel://credit-decisioning", "credit-scorer", "sha256:" + "cd" * 32)


def event(event_type="COMPLETE", **overrides):
    arguments = {
        "run_id": RUN_ID,
        "job_namespace": "keel://credit-decisioning",
        "job_name": "train-credit-scorer",
        "inputs": [DATA],
        "outputs": [MODEL],
        "event_time": "2026-11-20T10:15:00.123456+00:00",
        "producer": PRODUCER,
    }
    return run_event(event_type, **{**arguments, **overrides})


@pytest.mark.parametrize("event_type", ["START", "COMPLETE", "FAIL"])
def test_the_required_fields_of_a_run_event_are_there(event_type):
    e = event(event_type)
    # RunEvent (via BaseEvent): eventTime, producer, schemaURL, run, job
    assert {"eventTime", "producer", "schemaURL", "run", "job"} <= set(e)
    assert e["eventType"] == event_type
    assert e["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    assert uuid.UUID(e["run"]["runId"])
    assert set(e["job"]) >= {"namespace", "name"}
    for dataset in e["inputs"] + e["outputs"]:
        assert set(dataset) >= {"namespace", "name"}
        for facet in dataset["facets"].values():  # BaseFacet: _producer, _schemaURL
            assert facet["_producer"] == PRODUCER and facet["_schemaURL"].startswith("https://")
    assert e["inputs"][0]["facets"]["datasetVersion"]["datasetVersion"] == DATA[2]
    json.dumps(e, allow_nan=False)


def test_the_official_client_renders_the_same_event():
    def dataset(kind, namespace, name, digest):
        version = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=digest, producer=PRODUCER
        )
        return kind(namespace=namespace, name=name, facets={"datasetVersion": version})

    theirs = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-11-20T10:15:00.123456+00:00",
        run=Run(runId=RUN_ID, facets={}),
        job=Job(namespace="keel://credit-decisioning", name="train-credit-scorer", facets={}),
        inputs=[dataset(InputDataset, *DATA)],
        outputs=[dataset(OutputDataset, *MODEL)],
        producer=PRODUCER,
    )
    assert event("COMPLETE") == json.loads(Serde.to_json(theirs))


def test_a_dataset_without_a_digest_has_no_version_facet():
    e = event(inputs=[("file", "raw.csv", None)], outputs=[])
    assert e["inputs"] == [
        {"namespace": "file", "name": "raw.csv", "facets": {}, "inputFacets": {}}
    ]
    assert e["outputs"] == []


@pytest.mark.parametrize(
    "overrides, problem",
    [
        ({"event_type": "DONE"}, "event_type: one of"),
        ({"run_id": "run-1"}, "run_id: a UUID"),
        ({"event_time": "2026-11-20"}, "event_time: an ISO 8601 date and time"),
        ({"event_time": "2026-11-20T10:15:00"}, "with its offset"),
        ({"producer": "keel"}, "producer: a URI"),
        ({"job_name": ""}, "job_name: a non-empty string"),
        ({"inputs": [("file", "x")]}, "inputs[0]: (namespace, name, digest or None)"),
    ],
)
def test_arguments_that_cannot_make_a_valid_event_are_refused(overrides, problem):
    overrides = dict(overrides)
    event_type = overrides.pop("event_type", "START")
    with pytest.raises(InputError) as caught:
        event(event_type, **overrides)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_z_time_is_accepted():
    assert event(event_time="2026-11-20T10:15:00Z")["eventTime"] == "2026-11-20T10:15:00Z"
