"""Catalog speed on a generated map of 10,000 nodes and 30,000 lineage edges.

Targets (issue: Foundation I), on this 2-core machine with SQLite:
  apply 10,000 nodes + 30,000 edges <= 10 s; map impact <= 50 ms per query in process;
  map validate <= 2 s. The same figures are printed for PostgreSQL when it is reachable.
Each figure is printed with its ratio to the target (>1 means faster than required), and the
YAML parse with its ratio to PyYAML's pure-Python loader, run in the same process.

    .venv/bin/python bench/catalog_bench.py [--nodes 10000] [--queries 200] [--no-postgres]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
import yaml

from benchlib import postgres_settings, time_row
from keel.catalog import service
from keel.catalog.graph import load_graph
from keel.catalog.impact import impact
from keel.catalog.source import parse_text
from keel.catalog.validate import validate
from keel.config import DB_FILE, Settings
from keel.identity import user_actor
from keel.workspace import init_workspace

LAYERS = (
    ("DataSource", 0.15),
    ("FeatureSet", 0.25),
    ("Model", 0.30),
    ("API", 0.20),
    ("BusinessOutcome", 0.10),
)


def generate(nodes: int, edges: int | None = None, seed: int = 7) -> str:
    """A layered map of `nodes` nodes and `edges` lineage edges (default 3 per node).

    Each node below the data sources depends on nodes of the layer above, 90% of them in its
    own system; every data source declares an origin.
    """
    rng = random.Random(seed)
    edges = 3 * nodes if edges is None else edges
    systems = max(1, nodes // 100)
    groups = max(1, systems // 2)
    docs: list[dict] = []
    for g in range(groups):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Group",
                "metadata": {"name": f"team-{g}"},
                "spec": {"type": "team", "children": []},
            }
        )
    for s in range(systems):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "System",
                "metadata": {"name": f"sys-{s}"},
                "spec": {"owner": f"team-{s % groups}", "governance": ["risk-approval"]},
            }
        )
    remaining = nodes - len(docs)
    per_layer = [max(1, int(remaining * share)) for _, share in LAYERS]
    per_layer[-1] = remaining - sum(per_layer[:-1])
    dependants = sum(per_layer[1:])
    previous: list[tuple[str, int]] = []
    made = 0
    for (kind, _), count in zip(LAYERS, per_layer, strict=True):
        current = []
        for i in range(count):
            # spread the edges evenly over the nodes that have an upstream layer
            want = 0 if not previous else (edges - made) // max(1, dependants)
            if previous:
                dependants -= 1
            name = f"{kind.lower()}-{i}"
            system = i % systems
            spec: dict = {"owner": f"team-{system % groups}", "system": f"sys-{system}"}
            if previous:
                local = [p for p in previous if p[1] == system] or previous
                want = min(want, len(previous))
                picks: set[str] = set()
                while len(picks) < want:
                    pool = local if rng.random() < 0.9 and len(local) > want else previous
                    picks.add(rng.choice(pool)[0])
                made += len(picks)
                key = "measuredBy" if kind == "BusinessOutcome" else "dependsOn"
                spec[key] = sorted(picks)
            if kind == "DataSource":
                spec["origin"] = f"warehouse table raw.{name}"
            if kind in ("Model", "FeatureSet", "API"):
                spec["rollback"] = {"strategy": "previous-version"}
            if kind == "API":
                spec.update(type="openapi", lifecycle="production", definition="openapi: 3.0.0")
            api = "backstage.io/v1alpha1" if kind == "API" else "keel.dev/v1"
            docs.append({"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec})
            current.append((f"{kind.lower()}:{name}", system))
        previous = current
    return yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def bench_backend(name: str, settings: Settings, path: Path, queries: int) -> None:
    print(f"\n{name}")
    actor = user_actor("user:bench", "local")
    ws, _ = init_workspace(settings, actor)
    try:
        start = time.perf_counter()
        loaded = service.load([path])
        with ws.write(actor) as session:
            result = service.apply(session, actor, loaded.entities)
        apply_s = time.perf_counter() - start
        with ws.read() as session:
            relations = session.scalar(sa.text("select count(*) from catalog_relations"))
            lineage = session.scalar(
                sa.text(
                    "select count(*) from catalog_relations where type in ('dependsOn', 'measuredBy')"
                )
            )
        time_row(
            f"apply {len(result.created):,} nodes, {lineage:,} lineage edges",
            apply_s,
            10.0,
            f"[{relations:,} relations in all]",
        )
        again_s, again = timed(lambda: _apply_again(ws, actor, path))
        time_row(f"apply again (no change, {again.changed} events)", again_s)

        with ws.read() as session:
            load_s, graph = timed(load_graph, session)
        validate_s, report = timed(validate, graph)
        time_row(
            "map validate (load graph + check)",
            load_s + validate_s,
            2.0,
            f"[{len(report.findings)} findings]",
        )

        keys = sorted(k for k in graph.nodes if not k.startswith(("group:", "system:")))
        sample = random.Random(1).sample(keys, min(queries, len(keys)))
        times, sizes = [], []
        with ws.read() as session:
            for key in sample:
                for direction in ("down", "up"):
                    seconds, res = timed(impact, session, key, direction)
                    times.append(seconds)
                    sizes.append(len(res.reached))
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        time_row(
            f"map impact, median of {len(times)}",
            statistics.median(times),
            0.05,
            f"[median {statistics.median(sizes):.0f} nodes reached]",
        )
        time_row("map impact, p95", p95, 0.05)
        time_row("map impact, worst", times[-1], 0.05, f"[max {max(sizes)} nodes reached]")
    finally:
        ws.close()


def _apply_again(ws, actor, path):
    loaded = service.load([path])
    with ws.write(actor) as session:
        return service.apply(session, actor, loaded.entities)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.yaml"
        text = generate(args.nodes)
        path.write_text(text)
        print(f"generated catalog: {args.nodes:,} nodes, {len(text) / 1e6:.1f} MB of YAML")

        print("\nYAML parse with line numbers (libyaml C composer) vs PyYAML pure-Python loader")
        c_s, _ = timed(parse_text, text, "catalog.yaml")
        py_s, _ = timed(lambda: list(yaml.load_all(text, Loader=yaml.SafeLoader)))
        time_row(
            "keel parse (C composer + line map)",
            c_s,
            None,
            f"[{py_s / c_s:.1f}x faster than pure-Python yaml.SafeLoader at {py_s:.2f} s]",
        )

        sqlite = Settings(
            home=Path(tmp) / "ws", database_url=f"sqlite:///{Path(tmp) / 'ws' / DB_FILE}"
        )
        bench_backend("SQLite (embedded default)", sqlite, path, args.queries)

        if not args.no_postgres:
            with postgres_settings(Path(tmp) / "pg") as pg:
                if pg is not None:
                    bench_backend("PostgreSQL (scale-out)", pg, path, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
