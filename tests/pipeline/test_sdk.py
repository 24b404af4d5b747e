"""The SDK and `keel pipeline run`: a run recorded as it goes, lineage out, failures kept."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import keel
from keel.catalog import service
from keel.cli.main import run as cli
from keel.config import Settings
from keel.pipeline import runs
from keel.pipeline.checks import CheckResult
from keel.workspace import open_workspace
from tests.conftest import EXAMPLES, GERMAN_CREDIT


@pytest.fixture
def home(tmp_path, monkeypatch, admin):
    from keel.workspace import init_workspace

    settings = Settings(
        home=tmp_path / "ws", database_url=f"sqlite:///{tmp_path / 'ws' / 'keel.db'}"
    )
    ws, _ = init_workspace(settings, admin)
    with ws.write(admin) as session:
        service.apply(session, admin, service.load([EXAMPLES / "demo" / "catalog"]).entities)
    ws.close()
    monkeypatch.setenv("KEEL_HOME", str(settings.home))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_OPENLINEAGE_URL", raising=False)
    return settings


def _passing(check="quality") -> CheckResult:
    return CheckResult("data", check, "pass", {"rows": 1000.0}, {}, ["all good"], {})


def _runs(settings):
    ws = open_workspace(settings)
    try:
        with ws.read() as session:
            return runs.list_runs(session)
    finally:
        ws.close()


def test_a_run_records_facts_evidence_and_lineage(home, credit_artifacts):
    with keel.run(system="credit-decisioning", pipeline="train") as run:
        digest = run.log_dataset(GERMAN_CREDIT, source="german-credit")
        run.log_params({"seed": 7})
        run.log_metric("auc", 0.8)
        evidence = run.record(_passing(), check="quality")
        run.log_artifact(credit_artifacts["credit-scorer"])
        assert run.source("german-credit").origin.startswith("UCI")
        assert run.purpose == "credit-decisioning"
        release = run.release("credit-scorer", credit_artifacts["credit-scorer"])
    (found,) = _runs(home)
    assert found.status == "complete" and found.facts["params"] == {"seed": 7}
    assert found.facts["datasets"][0]["digest"] == digest
    assert evidence.run_id == found.id and release.short_name == "credit-scorer@1"
    lines = [json.loads(x) for x in (home.home / "openlineage.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in lines] == ["START", "COMPLETE"]
    assert lines[1]["inputs"][0]["name"] == "datasource:default/german-credit"
    assert lines[0]["run"]["runId"] == lines[1]["run"]["runId"]


def test_an_exception_marks_the_run_failed_and_is_raised(home):
    with (
        pytest.raises(RuntimeError, match="training diverged"),
        keel.run(system="credit-decisioning", pipeline="train") as run,
    ):
        run.record(_passing())
        raise RuntimeError("training diverged")
    (found,) = _runs(home)
    assert found.status == "failed"
    events = (home.home / "openlineage.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["eventType"] == "FAIL"


def test_bad_calls_are_clear(home):
    with pytest.raises(keel.KeelError, match="no such entity"):
        keel.run(system="nowhere", pipeline="p").__enter__()
    with keel.run(system="credit-decisioning", pipeline="p") as run:
        with pytest.raises(keel.KeelError, match="finite number"):
            run.log_metric("auc", float("nan"))
        with pytest.raises(keel.KeelError, match="evidence result"):
            run.record({"track": "data", "check": "quality", "result": "maybe"})


def test_lineage_is_posted_to_a_configured_endpoint(home, monkeypatch):
    received: list[dict] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "KEEL_OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}/api/v1/lineage"
    )
    try:
        with keel.run(system="credit-decisioning", pipeline="p"):
            pass
    finally:
        server.shutdown()
        server.server_close()
    assert [e["eventType"] for e in received] == ["START", "COMPLETE"]
    monkeypatch.setenv("KEEL_OPENLINEAGE_URL", "http://127.0.0.1:9/nothing-listens")
    with keel.run(system="credit-decisioning", pipeline="p"):
        pass  # a dead endpoint never fails the pipeline
    assert [r.status for r in _runs(home)] == ["complete", "complete"]


def test_keel_pipeline_run_shows_steps_and_fails_with_the_script(home, tmp_path, capsys):
    script = tmp_path / "pipe.py"
    script.write_text(
        "import sys, keel\n"
        "with keel.run(system='credit-decisioning', pipeline='p') as run:\n"
        "    run.log_param('arg', sys.argv[1])\n"
        "    if sys.argv[1] == 'boom':\n"
        "        raise ValueError('boom')\n"
    )
    assert cli(["pipeline", "run", str(script), "ok"]) == 0
    out = capsys.readouterr().out
    assert "started" in out and "complete" in out
    assert cli(["pipeline", "run", str(script), "boom"]) == 1
    assert "pipeline failed: ValueError: boom" in capsys.readouterr().err
    assert cli(["pipeline", "run", str(tmp_path / "missing.py")]) == 2
    assert sorted(r.status for r in _runs(home)) == ["complete", "failed"]


def test_feature_access_is_logged_with_ownership_evidence(home):
    from keel.audit import list_events

    with keel.run(system="credit-decisioning", pipeline="p") as run:
        evidence = run.use_features("credit-features")
        with pytest.raises(keel.KeelError, match="not a FeatureSet"):
            run.use_features("datasource:german-credit")
    assert (evidence.track, evidence.check, evidence.result) == ("feature", "ownership", "pass")
    ws = open_workspace(home)
    try:
        with ws.read() as session:
            (access,) = list_events(
                session,
                subject="featureset:default/credit-features",
                action="pipeline.featureset.accessed",
            )
    finally:
        ws.close()
    assert access.actor["id"] == "user:default/ana.lima" and access.details["run"] == run.id


def test_a_release_made_later_from_a_run_takes_its_data_digests(home, credit_artifacts, capsys):
    with keel.run(system="credit-decisioning", pipeline="p") as run:
        digest = run.log_dataset(GERMAN_CREDIT, source="german-credit")
        run.log_artifact(credit_artifacts["credit-scorer"])
    args = ["release", "create", "credit-decisioning", "--model", "credit-scorer"]
    artifact = ["--artifact", str(credit_artifacts["credit-scorer"])]
    assert cli([*args, *artifact, "--run", run.id]) == 0
    assert cli(["release", "show", "credit-scorer@1", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 2)[-1])
    deps = shown["statements"]["https://slsa.dev/provenance/v1"]["buildDefinition"]
    (pinned,) = [
        d for d in deps["resolvedDependencies"] if d["name"] == "datasource:default/german-credit"
    ]
    assert pinned["digest"] == {"sha256": digest.split(":")[1]}
    assert cli([*args, *artifact, "--run", "0" * 32]) == 2
    with keel.run(system="support-assistant", pipeline="p") as other:
        other.log_artifact(credit_artifacts["credit-scorer"])
    assert cli([*args, *artifact, "--run", other.id]) == 2
    assert "is not a run of system:default/credit-decisioning" in capsys.readouterr().err
