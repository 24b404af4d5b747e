"""The Python SDK: `keel.run(system=..., pipeline=...)` records a pipeline run as it goes.

    with keel.run(system="credit-decisioning", pipeline="train-scorer") as run:
        run.log_dataset("data/german.data", source="datasource:german-credit")
        run.log_params({"seed": 7})
        ...train...
        run.log_metric("auc", 0.80)
        run.record(checks.model.fairness(y_test, predictions, sex))   # evidence, now
        run.log_artifact("model.skops")

Each call writes at once (evidence is durable when `record` returns); leaving the block
closes the run as complete, or as failed when an exception escapes (which is re-raised).
OpenLineage START and COMPLETE/FAIL events go to `openlineage.jsonl` in the workspace and,
when `KEEL_OPENLINEAGE_URL` is set, are POSTed there too.
"""

from __future__ import annotations

import json
import math
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keel.audit.artifacts import artifact_digest
from keel.audit.events import now
from keel.config import load_settings
from keel.errors import UsageError
from keel.identity import Actor, local_actor
from keel.pipeline import attach, openlineage, runs
from keel.pipeline.evidence import Evidence
from keel.workspace import open_workspace

LINEAGE_FILE = "openlineage.jsonl"
PRODUCER = "https://keel.dev/sdk"
_listeners: list[Callable[[str], None]] = []  # `keel pipeline run` shows progress through these


def on_progress(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call `listener(line)` at each step of every run; returns a function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _say(line: str) -> None:
    for listener in list(_listeners):
        listener(line)


class PipelineRun:
    """An open run; use it through `keel.run(...)`."""

    def __init__(self, ws, actor: Actor, run: runs.Run):
        self._ws, self._actor, self._run = ws, actor, run
        self.datasets: list[dict[str, Any]] = []
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}
        self.artifacts: list[dict[str, str]] = []
        self.evidence: list[Evidence] = []

    @property
    def id(self) -> str:
        return self._run.id

    @property
    def system(self) -> str:
        return self._run.system

    def log_dataset(self, path: str | Path, *, source: str, name: str | None = None) -> str:
        """A dataset the run reads, by digest, with the catalogued DataSource it comes from."""
        digest = artifact_digest(path)
        source = self._source_key(source)
        self.datasets.append(
            {"name": name or Path(path).name, "path": str(path), "digest": digest, "source": source}
        )
        _say(f"dataset {name or Path(path).name} from {source} ({digest[:19]}…)")
        return digest

    def source(self, ref: str):
        """The catalogued facts of a DataSource (None when the map does not hold it)."""
        from keel.catalog.queries import get_entity
        from keel.errors import NotFoundError
        from keel.pipeline.checks import SourceFacts

        try:
            with self._ws.read() as session:
                entity = get_entity(session, self._source_key(ref))["entity"]
        except NotFoundError:
            return None
        spec = entity.get("spec", {})
        return SourceFacts(
            self._source_key(ref),
            spec.get("origin"),
            list((spec.get("consent") or {}).get("purposes", [])),
            spec.get("owner"),
        )

    @property
    def purpose(self) -> str | None:
        """The system's declared purpose (spec.purpose), which data consent must cover."""
        from keel.catalog.queries import get_entity

        with self._ws.read() as session:
            return get_entity(session, self.system)["entity"].get("spec", {}).get("purpose")

    def _source_key(self, ref: str) -> str:
        from keel.catalog.refs import key_of

        try:
            return key_of(ref, default_kind="datasource")
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def use_features(self, ref: str) -> Evidence:
        """A feature set the run reads: the access is logged under this run's identity, and
        its ownership recorded as Feature Ops evidence."""
        with self._ws.write(self._actor) as session:
            found = runs.use_features(session, self._actor, self.id, ref)
        self.evidence.append(found)
        _say(
            f"feature set {found.record['inputs']['featureset']}: access logged, ownership {found.result}"
        )
        return found

    def log_param(self, key: str, value: Any) -> None:
        json.dumps(value, allow_nan=False)  # refuse what the record could not hold
        self.params[key] = value

    def log_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(key, value)

    def log_metric(self, key: str, value: float) -> None:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise UsageError(f"metric {key} must be a finite number, not {value!r}")
        self.metrics[key] = float(value)

    def log_artifact(self, path: str | Path, *, name: str | None = None) -> str:
        digest = artifact_digest(path)
        self.artifacts.append(
            {"name": name or Path(path).name, "path": str(path), "digest": digest}
        )
        return digest

    def record(self, result: Any, *, check: str | None = None) -> Evidence:
        """Record a check's outcome (a CheckResult or its dict) as evidence of this run;
        `check` renames it (e.g. `fairness-age` and `fairness-sex` for two attributes)."""
        data = dict(result.as_dict() if hasattr(result, "as_dict") else result)
        if check:
            data["check"] = check
        with self._ws.write(self._actor) as session:
            found = attach.add_evidence(session, self._actor, self.system, data, run_id=self.id)
        self.evidence.append(found)
        _say(f"evidence {found.track}.{found.check}: {found.result}")
        return found

    def release(self, model: str, artifact: str | Path, **build: Any):
        """Release `artifact` as the next version of `model`, resting on this run: its
        datasets (by source), parameters, metrics as benchmark figures, and evidence."""
        from keel.pipeline.releases import Build, create_release
        from keel.pipeline.testreports import Benchmark

        facts = {
            "data": {d["source"]: Path(d["path"]) for d in self.datasets},
            "parameters": dict(self.params),
            "benchmarks": [Benchmark(k, v) for k, v in self.metrics.items()],
            "started_on": self._run.started_at,
            **build,
        }
        if not any(a["path"] == str(artifact) for a in self.artifacts):
            self.log_artifact(artifact)
        with self._ws.write(self._actor) as session:
            runs.record_facts(session, self._actor, self.id, self.facts())
            found = create_release(
                session,
                self._actor,
                self._ws.signer(),
                self.system,
                model,
                Build(artifact=Path(artifact), run=self.id, **facts),
            )
        _say(f"released {found.short_name} ({found.artifact_digest[:19]}…), attestations signed")
        return found

    def facts(self) -> dict[str, Any]:
        return {
            "datasets": self.datasets,
            "params": self.params,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
        }


class _RunContext:
    def __init__(self, system: str, pipeline: str, home: str | Path | None, user: str | None):
        self.system, self.pipeline, self.home, self.user = system, pipeline, home, user

    def __enter__(self) -> PipelineRun:
        settings = load_settings(str(self.home) if self.home else None)
        self.ws = open_workspace(settings)
        actor = local_actor(self.user, settings.user)
        try:
            with self.ws.write(actor) as session:
                run = runs.start_run(session, actor, self.system, self.pipeline)
        except BaseException:
            self.ws.close()
            raise
        self.handle = PipelineRun(self.ws, actor, run)
        _say(f"run {run.id[:8]} of {self.pipeline} ({run.system}) started")
        self._lineage("START")
        return self.handle

    def __exit__(self, kind, value, tb) -> None:
        status = "complete" if kind is None else "failed"
        try:
            with self.ws.write(self.handle._actor) as session:
                runs.finish_run(
                    session, self.handle._actor, self.handle.id, status, self.handle.facts()
                )
            self._lineage("COMPLETE" if kind is None else "FAIL")
            _say(f"run {self.handle.id[:8]} {status}")
        finally:
            self.ws.close()

    def _lineage(self, event_type: str) -> None:
        run = self.handle
        event = openlineage.run_event(
            event_type,
            run_id=_uuid(run.id),
            job_namespace=run.system,
            job_name=self.pipeline,
            inputs=[("keel", d["source"], d["digest"]) for d in run.datasets],
            outputs=[("keel", a["name"], a["digest"]) for a in run.artifacts],
            event_time=now(),
            producer=PRODUCER,
        )
        line = json.dumps(event, sort_keys=True) + "\n"
        with (self.ws.settings.home / LINEAGE_FILE).open("a") as out:
            out.write(line)
        url = os.environ.get("KEEL_OPENLINEAGE_URL")
        if url:
            _post(url, line.encode())


def _uuid(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _post(url: str, body: bytes) -> None:
    """Deliver to the lineage endpoint; a dead endpoint never fails the pipeline."""
    import sys

    if not url.startswith(("http://", "https://")):
        print(
            f"keel: KEEL_OPENLINEAGE_URL {url!r} is not http(s); lineage kept locally",
            file=sys.stderr,
        )
        return
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except OSError as exc:
        print(f"keel: OpenLineage endpoint {url}: {exc}", file=sys.stderr)


def run_file(path: str | Path, args: list[str], *, home: Path, user: str | None = None) -> None:
    """Run a pipeline script in this process against the workspace at `home`, as
    `python FILE ARGS...` would; its exceptions propagate (its run is recorded as failed)."""
    import runpy
    import sys

    saved = {k: os.environ.get(k) for k in ("KEEL_HOME", "KEEL_USER")}
    os.environ["KEEL_HOME"] = str(home)
    if user:
        os.environ["KEEL_USER"] = user
    argv, sys.argv = sys.argv, [str(path), *args]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(
    system: str,
    pipeline: str,
    *,
    home: str | Path | None = None,
    user: str | None = None,
) -> _RunContext:
    """A pipeline run of `system` (see the module docstring); the workspace is KEEL_HOME's."""
    return _RunContext(system, pipeline, home, user)
