"""How long people wait for the `keel` command to start, against baselines in the same run.

Fresh processes, interleaved (baseline, keel, baseline, keel, ...) so that load on the
machine falls on both alike; the median of many runs of each:

- `keel --help` against `python -c pass`: target at most 200 ms more;
- `keel ready SYSTEM` (reads the store) on a demo workspace built here, in a temporary
  folder, against `python -c "import sqlalchemy.orm"`: target at most 150 ms more.

    .venv/bin/python bench/cli_bench.py [--runs 30] [--home DIR]   # DIR: an existing demo
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEEL = [sys.executable, "-c", "from keel.cli.main import main; main()"]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def compare(label: str, baseline: list[str], command: list[str], runs: int, target_ms: float):
    timed(baseline), timed(command)  # warm the file cache and bytecode
    base, took = [], []
    for _ in range(runs):
        base.append(timed(baseline))
        took.append(timed(command))
    b, c = statistics.median(base), statistics.median(took)
    extra = (c - b) * 1000
    verdict = "met" if extra <= target_ms else "NOT met"
    print(
        f"{label:34} median {c * 1000:7.1f} ms, baseline {b * 1000:7.1f} ms: "
        f"+{extra:6.1f} ms ({c / b:4.1f}x); target +{target_ms:.0f} ms {verdict}",
        flush=True,
    )
    return extra <= target_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--home", type=Path, help="an existing demo workspace")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keel-cli-bench-") as tmp:
        home = args.home
        if home is None:
            home = Path(tmp) / "demo"
            print(f"building the demo workspace in {home} ...", flush=True)
            subprocess.run(
                [*KEEL, "demo", "--no-serve", "--home", str(home)],
                stdout=subprocess.DEVNULL,
                check=True,
            )
        ok = compare(
            "keel --help", [sys.executable, "-c", "pass"], [*KEEL, "--help"], args.runs, 200
        )
        ok &= compare(
            "keel ready credit-decisioning",
            [sys.executable, "-c", "import sqlalchemy.orm"],
            [*KEEL, "--home", str(home), "ready", "credit-decisioning"],
            args.runs,
            150,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
