"""Readiness speed on a workspace of 100 systems and 10,000 evidence records.

Target (issue #5): `keel ready` answers in <= 200 ms on such a workspace. The workspace is
built through the real service functions (catalog apply, pipeline runs and evidence,
releases, approvals and staging promotions, reviews), batched in transactions. Printed, on
SQLite and on PostgreSQL when it is reachable, each with its ratio to the target (>1 means
faster than required):
  - the readiness check in process (gather the facts + score), median and p95 over every
    system, three rounds;
  - `keel ready SYSTEM --format json` as a command (wall time of a fresh process), beside
    `keel --version` run the same way: the CLI's own start-up, the baseline;
  - which heavy modules the `keel ready` process imported (none of scikit-learn, numpy,
    scipy, FastAPI, Alembic should be there).

    .venv/bin/python bench/readiness_bench.py [--systems 100] [--evidence 10000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchlib import postgres_settings, time_row
from keel.catalog import service
from keel.config import DB_FILE, Settings
from keel.errors import PermissionDenied
from keel.identity import user_actor
from keel.pipeline import approvals, attach, promotion, releases, runs
from keel.readiness import reviews, stages
from keel.readiness.scorecard import readiness
from keel.workspace import init_workspace

TARGET = 0.200
ROLES = ("po", "eng-a", "eng-b", "steward", "risk", "cm")
TIERS = ("high", "medium", "low")
CHECKS = (
    ("data", "quality"),
    ("data", "provenance"),
    ("data", "consent"),
    ("feature", "ownership"),
    ("model", "fairness"),
    ("model", "robustness"),
    ("eval", "evaluation"),
    ("deploy", "smoke"),
)
HEAVY = ("sklearn", "numpy", "scipy", "fastapi", "uvicorn", "alembic", "jinja2", "skops")
RELEASED = 20  # systems with a release in staging
KEEL = Path(sys.executable).with_name("keel")


def catalog(systems: int, seed: int = 5) -> str:
    """Groups, six people per system, 100 systems of 8 map nodes each, a Policy per risk tier."""
    rng = random.Random(seed)
    docs: list[dict] = []

    def add(api: str, kind: str, name: str, spec: dict) -> None:
        docs.append({"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec})

    bs, keel = "backstage.io/v1alpha1", "keel.dev/v1"
    teams = max(1, systems // 10)
    for t in range(teams):
        add(bs, "Group", f"team-{t}", {"type": "team", "children": []})
    for s in range(systems):
        team = f"team-{s % teams}"
        for role in ROLES:
            add(bs, "User", f"{role}-{s}", {"memberOf": [team]})
        plan = {"communication": "bulletin", "workflowChanges": "queue"}
        if rng.random() < 0.7:
            plan["training"] = "two sessions"
        add(
            bs,
            "System",
            f"sys-{s}",
            {
                "owner": team,
                "governance": ["risk-approval"],
                "riskTier": TIERS[s % 3],
                "pod": {
                    "productOwner": f"po-{s}",
                    "mlEngineer": [f"eng-a-{s}", f"eng-b-{s}"],
                    "dataSteward": f"steward-{s}",
                    "riskLead": f"risk-{s}" if rng.random() < 0.9 else [],
                    "changeManager": f"cm-{s}",
                },
                "changePlan": plan,
            },
        )
        own = {"owner": team, "system": f"sys-{s}"}
        for d in range(2):
            spec = {**own, "origin": f"warehouse raw.t{s}_{d}"}
            if rng.random() < 0.8:
                spec["refresh"] = "nightly"
            add(keel, "DataSource", f"src-{s}-{d}", spec)
            add(
                keel,
                "FeatureSet",
                f"feat-{s}-{d}",
                {**own, "dependsOn": [f"datasource:src-{s}-{d}"], "rollback": rb()},
            )
        for m in range(2):
            spec = {**own, "dependsOn": [f"featureset:feat-{s}-0", f"featureset:feat-{s}-1"]}
            if rng.random() < 0.85:
                spec["rollback"] = rb()
            add(keel, "Model", f"model-{s}-{m}", spec)
        add(
            bs,
            "API",
            f"api-{s}",
            {
                **own,
                "type": "openapi",
                "lifecycle": "production",
                "definition": "openapi: 3.0.0",
                "dependsOn": [f"model:model-{s}-0", f"model:model-{s}-1"],
                "rollback": rb(),
            },
        )
        add(keel, "BusinessOutcome", f"kpi-{s}", {**own, "measuredBy": [f"api:api-{s}"]})
    for tier in TIERS:
        add(
            keel,
            "Policy",
            f"{tier}-risk",
            {
                "appliesTo": {"riskTiers": [tier]},
                "evidence": {} if tier == "low" else {"data": ["quality"], "model": ["fairness"]},
                "approvals": {"staging": ["mlEngineer"], "production": ["riskLead"]},
                **({"readiness": {"minScore": 70}} if tier == "high" else {}),
            },
        )
    return yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False)


def rb() -> dict:
    return {"strategy": "previous-version"}


def build(ws, home: Path, systems: int, evidence: int) -> dict[str, float]:
    """The workspace, through the service functions; how long each part took (and counts)."""
    admin = user_actor("user:bench", "local")
    took: dict[str, float] = {}
    start = time.perf_counter()
    entities = service.load_text(catalog(systems), "bench.yaml")
    with ws.write(admin) as session:
        service.apply(session, admin, entities)
    took["catalog"] = time.perf_counter() - start

    start = time.perf_counter()
    rng = random.Random(9)
    per_system = evidence // systems
    for s in range(systems):  # one transaction per system: 5 runs and their evidence
        engineer = user_actor(f"eng-a-{s}", "local")
        with ws.write(engineer) as session:
            run_ids = [
                runs.start_run(session, engineer, f"sys-{s}", "nightly").id for _ in range(5)
            ]
            for i in range(per_system):
                track, check = CHECKS[i % len(CHECKS)]
                result = "pass" if rng.random() < 0.9 else "fail"
                attach.add_evidence(
                    session,
                    engineer,
                    f"sys-{s}",
                    {"track": track, "check": check, "result": result, "figures": {"v": i}},
                    run_id=run_ids[i % 5],
                )
    took["evidence"] = time.perf_counter() - start

    start = time.perf_counter()
    released = 0
    artifact, data = home / "model.bin", home / "train.csv"
    artifact.write_bytes(os.urandom(4096))
    data.write_text("a,b\n1,2\n")
    for s in range(0, systems, max(1, systems // RELEASED)):
        author, peer = user_actor(f"eng-a-{s}", "local"), user_actor(f"eng-b-{s}", "local")
        sources = {f"datasource:default/src-{s}-{d}": data for d in range(2)}
        with ws.write(author) as session:
            release = releases.create_release(
                session,
                author,
                ws.signer(),
                f"sys-{s}",
                f"model-{s}-0",
                releases.Build(artifact=artifact, data=sources),
            )
            for track, check in (("data", "quality"), ("model", "fairness")):
                attach.add_evidence(
                    session,
                    author,
                    f"sys-{s}",
                    {"track": track, "check": check, "result": "pass"},
                    release=release.short_name,
                )
        with ws.write(peer) as session:
            approvals.approve(session, peer, release.short_name, "mlEngineer")
        with ws.write(author) as session:
            promotion.promote(session, author, ws.signer(), release.short_name, "staging")
        released += 1
        risk = user_actor(f"risk-{s}", "local")
        with ws.write(risk) as session:
            for kind in ("privacy", "security"):
                try:
                    reviews.review(session, risk, f"sys-{s}", kind)
                except PermissionDenied:  # a system without a risk lead: nobody may review
                    break
    took["releases"] = time.perf_counter() - start
    took["released"] = released
    return took


def bench_backend(name: str, settings: Settings, systems: int, evidence: int, cli: int) -> None:
    print(f"\n{name}")
    actor = user_actor("user:bench", "local")
    ws, _ = init_workspace(settings, actor)
    try:
        took = build(ws, settings.home, systems, evidence)
        with ws.read() as session:
            from sqlalchemy import text

            count = session.scalar(text("select count(*) from pipeline_evidence"))
            events = session.scalar(text("select count(*) from audit_events"))
        time_row(f"build: catalog of {systems} systems", took["catalog"])
        time_row(
            f"build: {count:,} evidence records", took["evidence"], note=f"[{events:,} events]"
        )
        time_row(f"build: {took['released']:.0f} releases to staging, reviews", took["releases"])

        keys = [f"sys-{s}" for s in range(systems)]
        times, scores = [], []
        for _ in range(3):
            for key in keys:
                start = time.perf_counter()
                with ws.read() as session:
                    card = readiness(session, key)
                times.append(time.perf_counter() - start)
                scores.append(card.score)
        times.sort()
        time_row(f"ready in process, median of {len(times)}", statistics.median(times), TARGET)
        time_row("ready in process, p95", times[int(len(times) * 0.95) - 1], TARGET)
        time_row("ready in process, worst", times[-1], TARGET)
        shown = []
        for key in keys[:: max(1, systems // 20)]:
            start = time.perf_counter()
            with ws.read() as session:
                stages.show(session, key)
            shown.append(time.perf_counter() - start)
        time_row(f"stage show in process, median of {len(shown)}", statistics.median(shown))
        print(
            f"  scores: min {min(scores):g}, median {statistics.median(scores):g}, "
            f"max {max(scores):g}"
        )
    finally:
        ws.close()
    if cli:
        env = {
            **os.environ,
            "KEEL_HOME": str(settings.home),
            "KEEL_DATABASE_URL": settings.database_url,
        }
        base = _wall([str(KEEL), "--version"], env, cli)
        ready = _wall([str(KEEL), "ready", "sys-0", "--format", "json"], env, cli)
        time_row(f"keel --version (CLI start-up), median of {cli}", base)
        time_row(f"keel ready (a fresh process), median of {cli}", ready, TARGET)
        time_row("keel ready minus CLI start-up", max(ready - base, 1e-6), TARGET)
        probe = (
            "import sys, json, contextlib, io\n"
            "from keel.cli.main import run\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    run(['ready', 'sys-0', '--format', 'json'])\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
        )
        loaded = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        print(f"  heavy modules imported by keel ready: {json.loads(loaded) or 'none'}")


def _wall(argv: list[str], env: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--evidence", type=int, default=10_000)
    parser.add_argument("--cli", type=int, default=7, help="CLI runs to time (0: none)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"readiness: {args.systems} systems, {args.evidence:,} evidence records; "
        f"target {TARGET * 1000:.0f} ms per answer"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "sqlite"
        sqlite = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
        bench_backend("SQLite", sqlite, args.systems, args.evidence, args.cli)
        if not args.no_postgres:
            with postgres_settings(Path(tmp) / "pg") as pg:
                if pg is not None:
                    bench_backend("PostgreSQL", pg, args.systems, args.evidence, args.cli)
    return 0


if __name__ == "__main__":
    sys.exit(main())
