"""The gateway's speed across cores against the issue's targets, beside LiteLLM (issues #6, #15).

Starts the anchors' fake OpenAI upstream (../shared/anchors/upstream.py, 1 KB answers) and, for
one worker and then two, a `keel gateway --workers W` with auth + rate limits (rpm and tpm on
the key, shared through Redis) + every guard scanner (`--guard record`) + the traffic log,
and runs ../shared/anchors/gateway_bench.py (direct vs via, 1 KB prompts): sequential
(concurrency 1), then throughput at concurrency 8 and 16. Every figure has its baseline, the
same request straight to the upstream in the same run. When the anchors venv holds LiteLLM
(bash ../shared/anchors/setup.sh), the LiteLLM proxy runs with the same number of workers on
the same upstream in the same run, and Keel's ratio to it is printed. Last, the error of the
gateway's offline token estimate against cl100k_base (tiktoken with the encodings LiteLLM
bundles; measured here, never downloaded, not a Keel dependency).

Targets (issue 15): two workers >= 1.6x one worker's req/s at concurrency 16, >= 2,000 req/s;
median added latency <= 1 ms at concurrency 1, p99 added <= 15 ms at concurrency 8. About
two minutes with LiteLLM; needs Redis (--redis, default redis://127.0.0.1:6379/0).

    .venv/bin/python bench/gateway_bench.py [--workers 1,2] [--no-litellm] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors"
ANCHORS_VENV = Path(os.environ.get("ANCHORS_VENV", "/tmp/anchors-venv"))
KEEL = Path(sys.executable).parent / "keel"
LITELLM_KEY = "sk-anchors-bench"
QUIET = False  # --quiet: the anchors' own tables are not printed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process on port {port} exited early")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing answered on port {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


GUARDS = {
    "default": None,  # the default policy: injections are blocked
    # every scanner runs as in the default, injections are recorded instead of blocked
    "record": {"input": {"injection": "allow"}},
    "off": False,
}


def workspace(home: Path, upstream: str, guard: str = "default") -> str:
    """A workspace with the demo map, a route to `upstream` (guard policy `GUARDS[guard]`)
    and a key with limits; its key."""
    from keel.catalog import service
    from keel.config import DB_FILE, Settings
    from keel.gateway import keys, routes
    from keel.identity import user_actor
    from keel.workspace import init_workspace

    actor = user_actor("user:alice", "local")
    settings = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
    ws, _ = init_workspace(settings, actor)
    loaded = service.load([ROOT / "examples" / "demo" / "catalog"])
    with ws.write(actor) as session:
        service.apply(session, actor, loaded.entities)
        routes.set_route(
            session,
            actor,
            "support-chat-api",
            "production",
            upstream,
            model="bench",
            guard=GUARDS[guard],
            allow_ungoverned=True,  # nothing is released in this map: served, and flagged
        )
        _, secret = keys.create_key(
            session,
            actor,
            "bench",
            ["support-chat-api"],
            "production",
            rpm=10_000_000,
            tpm=10_000_000_000,
        )
    ws.close()
    return secret


def traffic_events(home: Path) -> dict[str, int]:
    from keel import audit
    from keel.config import DB_FILE, Settings
    from keel.workspace import open_workspace

    ws = open_workspace(Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}"))
    try:
        with ws.read() as session:
            events = audit.list_events(session, log="traffic")
        return {
            "requests": sum(e.action == "gateway.request.handled" for e in events),
            "anomalies": sum(e.action == "gateway.anomaly.detected" for e in events),
        }
    finally:
        ws.close()


def bench(python: Path, direct: str, via: str, key: str, model: str, extra: list[str]) -> dict:
    """One run of the anchors' bench (its own output goes to the terminal)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    cmd = [
        str(python),
        str(ANCHORS / "gateway_bench.py"),
        "--direct",
        direct,
        "--via",
        via,
        "--key",
        key,
        "--model",
        model,
        "--json",
        path,
        *extra,
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if QUIET else None)
    data = json.loads(Path(path).read_text())
    os.unlink(path)
    return data


def token_error() -> dict | None:
    """The estimate (chars/4) against cl100k_base over the repo's texts, from the anchors venv."""
    cache = ANCHORS_VENV / "lib" / "python3.11" / "site-packages" / "litellm" / "litellm_core_utils"
    cache = cache / "tokenizers"
    if not (ANCHORS_VENV / "bin" / "python").exists() or not cache.is_dir():
        return None
    texts = [
        p.read_text() for p in sorted((ROOT / "examples" / "demo" / "knowledge-base").glob("*.md"))
    ]
    guard = ROOT / "tests" / "vectors" / "guard" / "pii_synth_dev.jsonl"
    if guard.exists():
        texts += [json.loads(line)["text"] for line in guard.read_text().splitlines()[:300] if line]
    texts.append(("Summarise the following text for a governance review. " * 40)[:1024])
    script = (
        "import json,sys,tiktoken;e=tiktoken.get_encoding('cl100k_base');"
        "print(json.dumps([len(e.encode(t)) for t in json.load(sys.stdin)]))"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [str(ANCHORS_VENV / "bin" / "python"), "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if done.returncode:
        return None
    from keel.gateway.tokens import count_text

    real = json.loads(done.stdout)
    errors = sorted((count_text(t) - r) / r for t, r in zip(texts, real, strict=True) if r)
    return {
        "texts": len(errors),
        "median_pct": 100 * statistics.median(errors),
        "p10_pct": 100 * errors[len(errors) // 10],
        "p90_pct": 100 * errors[len(errors) * 9 // 10],
        "under_pct": 100 * sum(e < 0 for e in errors) / len(errors),
    }


def phases(n: int, requests: int, duration: float) -> list[tuple[str, list[str]]]:
    """The runs of one target: sequential with concurrency 8, then concurrency 16 alone."""
    tp = ["--requests", str(requests), "--duration", str(duration)]
    return [
        ("c8", ["--n", str(n), "--concurrency", "8", *tp]),
        ("c16", ["--n", "0", "--concurrency", "16", *tp]),
    ]


def served(admin_port: int) -> int:
    """Requests the gateway answered, summed over its workers (the admin port's /metrics)."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    return int(
        sum(
            float(line.rpartition(" ")[2])
            for line in text.splitlines()
            if line.startswith("keel_gateway_requests_total{")
        )
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def group(pgid: int) -> list[int]:
    """The processes of a process group (LiteLLM's proxy and its workers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid:
                out.append(int(entry.name))
    return out


def sent(runs: dict) -> int:
    """Requests one target got in these anchors runs (validation and warm-ups included)."""
    total = 0
    for run in runs.values():
        cfg = run["config"]
        total += 1 + (cfg["n"] + 50 if cfg["n"] else 0)
        total += run["throughput"]["via"]["done"] + 200
    return total


def run_keel(a, home: Path, key: str, upstream: str, workers: int) -> dict:
    gw_port, admin_port = free_port(), free_port()
    env = {**os.environ, "KEEL_HOME": str(home), "KEEL_DATABASE_URL": "", "KEEL_REDIS_URL": ""}
    args = [str(KEEL), "gateway", "--port", str(gw_port), "--admin-port", str(admin_port)]
    args += ["--workers", str(workers), "--redis", a.redis, "--redis-timeout", "0.5"]
    before = traffic_events(home)["requests"]
    gw = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    out: dict = {}
    try:
        wait_http(admin_port, "/healthz", gw)
        import urllib.request

        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/healthz").read())
        pids = [gw.pid, *(w["pid"] for w in health.get("workers", []))]
        cpu = cpu_seconds(pids)
        via = f"http://127.0.0.1:{gw_port}"
        print(
            f"\n== Keel gateway, {workers} worker(s) (auth, rpm/tpm limits in Redis, guard "
            f"{a.guard}, traffic log) ==",
            flush=True,
        )
        for name, extra in phases(a.n, a.requests, a.duration):
            out[name] = bench(sys.executable, upstream, via, key, "support-chat-api", extra)
        if a.stream:
            extra = ["--n", str(a.n // 3), "--concurrency", "8", "--requests", str(a.requests)]
            out["stream"] = bench(
                sys.executable,
                upstream,
                via,
                key,
                "support-chat-api",
                [*extra, "--duration", str(a.duration), "--stream"],
            )
        answered = served(admin_port)
        out["cpu_ms_per_request"] = (cpu_seconds(pids) - cpu) * 1000 / answered
    finally:
        stop(gw)  # SIGTERM: every worker flushes what its traffic log still holds
    out["sent"] = sent({k: v for k, v in out.items() if k in ("c8", "c16", "stream")})
    out["traffic_log"] = {
        "answered": answered,
        "events": traffic_events(home)["requests"] - before,
        "exit": gw.returncode,
    }
    return out


def run_litellm(a, upstream: str, workers: int) -> dict | None:
    litellm = ANCHORS_VENV / "bin" / "litellm"
    if a.no_litellm or not litellm.exists():
        return None
    port = free_port()
    # more workers start slower on a loaded machine: their start is not what is measured
    env = {**os.environ, "ANCHORS_LITELLM_WORKERS": str(workers), "ANCHORS_START_TIMEOUT": "120"}
    started = subprocess.run(
        ["bash", str(ANCHORS / "litellm_proxy.sh"), str(port), upstream + "/v1"],
        capture_output=True,
        text=True,
        env=env,
    )
    if started.returncode:
        print(f"LiteLLM ({workers} workers) did not start: {started.stderr.strip()[-300:]}")
        pidfile = Path(f"/tmp/anchors-litellm-{port}/pid")  # where litellm_proxy.sh keeps it
        if pidfile.exists():
            halt(int(pidfile.read_text()))
        return None
    pid = int(started.stdout.strip().splitlines()[-1])
    out: dict = {}
    pids = group(pid)
    cpu = cpu_seconds(pids)
    try:
        print(
            f"\n== LiteLLM proxy, {workers} worker(s) (master key, no DB), same upstream ==",
            flush=True,
        )
        n, requests = min(a.n, 100), min(a.requests, 1500)
        for name, extra in phases(n, requests, a.litellm_duration):
            out[name] = bench(
                ANCHORS_VENV / "bin" / "python",
                upstream,
                f"http://127.0.0.1:{port}",
                LITELLM_KEY,
                "bench",
                extra,
            )
        out["cpu_ms_per_request"] = (cpu_seconds(pids) - cpu) * 1000 / sent(out)
    finally:
        halt(pid)
    return out


def halt(pgid: int) -> None:
    """Stop LiteLLM's process group (its workers too): SIGTERM, then SIGKILL after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while group(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group(pgid):
            os.killpg(pgid, signal.SIGKILL)


def redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def main() -> None:
    global QUIET
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=600, help="sequential requests per target")
    ap.add_argument("--requests", type=int, default=30000, help="cap per throughput run")
    ap.add_argument("--duration", type=float, default=5, help="seconds per throughput run")
    ap.add_argument("--litellm-duration", type=float, default=4, help="same, for LiteLLM")
    ap.add_argument("--workers", default="1,2", help="gateway configurations, e.g. 1,2 or 2")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the shared limit store")
    ap.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM side")
    ap.add_argument("--stream", action="store_true", help="also stream=true at concurrency 8")
    ap.add_argument("--quiet", action="store_true", help="only the summary, not each run's table")
    ap.add_argument(
        "--guard",
        choices=sorted(GUARDS),
        default="record",
        help="the route's guard: record (every scanner; injections recorded, not blocked:\n"
        "the bench prompt is an injection false hit), default (injections blocked), off",
    )
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()
    QUIET = a.quiet
    counts = sorted({int(w) for w in a.workers.split(",")})
    if not redis_up(a.redis):
        sys.exit(f"no Redis at {a.redis}: the workers share their limits there (--redis URL)")

    started = time.monotonic()
    figures: dict = {"workers": {}, "litellm": {}, "guard": a.guard}
    with tempfile.TemporaryDirectory(prefix="keel-gw-bench-") as tmp:
        home = Path(tmp) / "ws"
        up_port = free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        up = subprocess.Popen(
            [sys.executable, str(ANCHORS / "upstream.py"), "--port", str(up_port)],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_http(up_port, "/health", up)
            key = workspace(home, upstream + "/v1", guard=a.guard)
            for workers in counts:
                figures["workers"][workers] = run_keel(a, home, key, upstream, workers)
            for workers in counts:
                figures["litellm"][workers] = run_litellm(a, upstream, workers)
        finally:
            stop(up)
    figures["tokens"] = token_error()
    figures["seconds"] = time.monotonic() - started
    report(figures)
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))


def _figures(run: dict) -> dict[str, tuple[float, float]]:
    """(Keel or LiteLLM, direct in the same run) for each figure of one configuration."""
    seq, c8, c16 = run["c8"]["sequential"], run["c8"]["throughput"], run["c16"]["throughput"]
    return {
        "median added, c1 (ms)": (seq["added"]["median_ms"], seq["direct"]["median_ms"]),
        "p99 added, c1 (ms)": (seq["added"]["p99_ms"], seq["direct"]["p99_ms"]),
        "req/s, c8": (c8["via"]["rps"], c8["direct"]["rps"]),
        "p99 added, c8 (ms)": (
            c8["via"]["p99_ms"] - c8["direct"]["p99_ms"],
            c8["direct"]["p99_ms"],
        ),
        "req/s, c16": (c16["via"]["rps"], c16["direct"]["rps"]),
        "p99 added, c16 (ms)": (
            c16["via"]["p99_ms"] - c16["direct"]["p99_ms"],
            c16["direct"]["p99_ms"],
        ),
    }


def report(f: dict) -> None:
    print(f"\n== Keel gateway across cores (guard {f['guard']}; direct = the same request straight")
    print("   to the upstream in the same run; LiteLLM with the same number of workers) ==")
    print(
        f"  {'':24} {'workers':>7} {'Keel':>10} {'direct':>10} {'LiteLLM':>10} {'Keel vs LiteLLM':>16}"
    )
    keel: dict[int, dict] = {}
    for workers, run in f["workers"].items():
        keel[workers] = mine = _figures(run)
        lite = _figures(f["litellm"][workers]) if f["litellm"].get(workers) else {}
        for label, (value, direct) in mine.items():
            other = lite.get(label, (None, None))[0]
            if other is None:
                vs = ""
            elif label.startswith("req/s"):
                vs = f"{value / other:.1f}x more" if other else ""
            else:
                vs = f"{other / value:.1f}x less" if value > 0 else ""
            print(
                f"  {label:24} {workers:7d} {value:10.3f} {direct:10.3f} "
                f"{'' if other is None else f'{other:10.3f}':>10} {vs:>16}"
            )
        mine_cpu, lite_cpu = (
            run["cpu_ms_per_request"],
            (f["litellm"].get(workers) or {}).get("cpu_ms_per_request"),
        )
        print(
            f"  {'CPU per request (ms)':24} {workers:7d} {mine_cpu:10.3f} {'':>10} "
            + (f"{lite_cpu:10.3f} {lite_cpu / mine_cpu:10.1f}x less" if lite_cpu else "")
        )
        log = run["traffic_log"]
        print(
            f"  {'traffic log':24} {workers:7d} {log['events']} events for {log['answered']} "
            f"requests answered (exit {log['exit']} at SIGTERM)"
        )
        if "stream" in run:
            s = run["stream"]
            print(
                f"  {'stream=true, c8':24} {workers:7d} median added "
                f"{s['sequential']['added']['median_ms']:.3f} ms, {s['throughput']['via']['rps']:.0f} req/s"
            )
    top = max(keel)
    print(f"\n== targets (issue 15), {top} worker(s) ==")
    rows = []
    if 1 in keel and top > 1:
        scale = keel[top]["req/s, c16"][0] / keel[1]["req/s, c16"][0]
        rows.append((f"{top} workers / 1 worker, req/s c16", scale, "x", 1.6, True))
    rows += [
        ("req/s at concurrency 16", keel[top]["req/s, c16"][0], "req/s", 2000.0, True),
        ("median added at concurrency 1", keel[top]["median added, c1 (ms)"][0], "ms", 1.0, False),
        ("p99 added at concurrency 8", keel[top]["p99 added, c8 (ms)"][0], "ms", 15.0, False),
    ]
    for label, value, unit, target, higher in rows:
        ok = value >= target if higher else value <= target
        print(
            f"  {label:34} {value:10.3f} {unit:6} target {'>=' if higher else '<='} {target:g}"
            f"  {'met' if ok else 'MISSED'}"
        )
    if not any(f["litellm"].values()):
        print("  LiteLLM not measured (no anchors venv, or --no-litellm)")
    t = f.get("tokens")
    if t:
        print(
            f"\n  token estimate (chars/4) vs cl100k_base over {t['texts']} texts: median "
            f"{t['median_pct']:+.1f} %, p10 {t['p10_pct']:+.1f} %, p90 {t['p90_pct']:+.1f} %; "
            f"under-counts {t['under_pct']:.0f} % of texts"
        )
    print(f"  ({f['seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
