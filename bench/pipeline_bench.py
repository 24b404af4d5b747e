"""Pipeline speed: recording evidence, and `release show` on a large workspace.

Targets (issue: governed pipelines), in process:
  recording evidence adds <= 5 ms per check (each record durable when the call returns);
  `release show` (a release's evidence, approvals, placement and what it lacks per environment)
  answers in <= 200 ms on a workspace with 100 systems and 10,000 evidence records.
Also the CLI's wall time for `keel release show` (heavy imports must stay out of it).
Ratios are printed against the targets (>1 is faster than required). PostgreSQL too.

    .venv/bin/python bench/pipeline_bench.py [--systems 100] [--evidence 10000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import postgres_settings, rate_row
from keel.catalog import service
from keel.config import DB_FILE, Settings
from keel.identity import user_actor
from keel.pipeline import attach, promotion, releases
from keel.workspace import init_workspace

ENGINEER = "user:default/eng"
TRACKS = [
    ("data", "quality"),
    ("model", "fairness"),
    ("model", "robustness"),
    ("eval", "evaluation"),
]


def catalog(systems: int) -> str:
    docs = [
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team}\nspec: {type: team, children: []}",
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: eng}\nspec: {memberOf: [team]}",
    ]
    for i in range(systems):
        docs += [
            f"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {{name: s{i}}}\n"
            f"spec: {{owner: team, purpose: p, pod: {{mlEngineer: eng}}}}",
            f"apiVersion: keel.dev/v1\nkind: DataSource\nmetadata: {{name: d{i}}}\n"
            f"spec: {{owner: team, system: s{i}, origin: bench, consent: {{basis: b, purposes: [p]}}}}",
            f"apiVersion: keel.dev/v1\nkind: Model\nmetadata: {{name: m{i}}}\n"
            f"spec: {{owner: team, system: s{i}, type: classifier, dependsOn: [datasource:d{i}]}}",
            f"apiVersion: keel.dev/v1\nkind: Policy\nmetadata: {{name: p{i}}}\n"
            f"spec: {{appliesTo: {{systems: [s{i}]}}, evidence: {{data: [quality], model: [fairness]}},"
            f" approvals: {{staging: [mlEngineer]}}, evidenceMaxAge: 30d}}",
        ]
    return "\n---\n".join(docs)


def bench(name: str, settings: Settings, systems: int, evidence: int) -> None:
    print(f"\n{name}")
    actor = user_actor(ENGINEER, "local")
    ws, _ = init_workspace(settings, actor)
    work = settings.home / "files"
    work.mkdir(parents=True, exist_ok=True)
    try:
        with ws.write(actor) as session:
            service.apply(session, actor, service.load_text(catalog(systems)))
        built = []
        start = time.perf_counter()
        for i in range(systems):
            artifact, data = work / f"m{i}.bin", work / f"d{i}.csv"
            artifact.write_bytes(os.urandom(4096))
            data.write_text(f"x,y\n{i},1\n")
            build = releases.Build(artifact=artifact, data={f"datasource:default/d{i}": data})
            with ws.write(actor) as session:
                release = releases.create_release(
                    session, actor, ws.signer(), f"s{i}", f"m{i}", build
                )
                per = evidence // systems
                for j in range(per):
                    track, check = TRACKS[j % len(TRACKS)]
                    attach.add_evidence(
                        session,
                        actor,
                        f"s{i}",
                        {"track": track, "check": check, "result": "pass", "figures": {"x": j}},
                        release=release.short_name,
                    )
            built.append(release)
        print(
            f"  (built {systems} systems, {systems} releases, {evidence:,} evidence in "
            f"{time.perf_counter() - start:.1f} s)"
        )

        times = []
        target = built[len(built) // 2]
        for j in range(200):
            start = time.perf_counter()
            with ws.write(actor) as session:
                attach.add_evidence(
                    session,
                    actor,
                    target.system,
                    {"track": "data", "check": "quality", "result": "pass", "figures": {"j": j}},
                    release=target.short_name,
                )
            times.append(time.perf_counter() - start)
        rate_row(
            "record one evidence, committed (median of 200)",
            statistics.median(times) * 1000,
            "ms",
            5,
            False,
        )

        times = []
        for release in built[:: max(1, systems // 50)]:
            start = time.perf_counter()
            with ws.read() as session:
                promotion.status(session, releases.get_release(session, release.short_name))
            times.append(time.perf_counter() - start)
        rate_row(
            "release show, in process (median)", statistics.median(times) * 1000, "ms", 200, False
        )

        env = {
            **os.environ,
            "KEEL_HOME": str(settings.home),
            "KEEL_DATABASE_URL": settings.database_url,
        }
        keel = Path(sys.executable).parent / "keel"
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [keel, "release", "show", target.short_name, "--format", "json"],
                env=env,
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - start)
        rate_row(
            "keel release show, CLI wall time (median of 3)",
            statistics.median(walls) * 1000,
            "ms",
            1000,
            False,
        )
    finally:
        ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--evidence", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Settings(
            home=Path(tmp) / "s", database_url=f"sqlite:///{Path(tmp) / 's' / DB_FILE}"
        )
        bench("SQLite (embedded default)", sqlite, args.systems, args.evidence)
        if not args.no_postgres:
            with postgres_settings(Path(tmp) / "p") as pg:
                if pg is not None:
                    bench("PostgreSQL (scale-out)", pg, args.systems, args.evidence)
    return 0


if __name__ == "__main__":
    sys.exit(main())
