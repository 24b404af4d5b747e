"""The gateway's speed against the issue's targets, and LiteLLM's on the same upstream (issue #6).

Starts the anchors' fake OpenAI upstream (../shared/anchors/upstream.py, 1 KB answers), a
`keel gateway` with auth + rate limits (rpm and tpm on the key) + the traffic log on, and runs
../shared/anchors/gateway_bench.py (direct vs via; 1 KB prompts) for plain and streamed chat.
When the anchors venv holds LiteLLM (bash ../shared/anchors/setup.sh), the LiteLLM proxy runs
on the same upstream with the same flags in the same run, and Keel's ratios are printed.
Last, the error of the gateway's offline token estimate against cl100k_base (tiktoken with the
encodings LiteLLM bundles; measured here, never downloaded, not a Keel dependency).

Targets: median added latency <= 1 ms (sequential); >= 1,000 req/s at concurrency 8 with
p99 added <= 15 ms, one gateway process.

    .venv/bin/python bench/gateway_bench.py [--n 1000] [--requests 5000] [--no-litellm] [--json F]
"""

from __future__ import annotations

import argparse
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
        proc.send_signal(signal.SIGINT)
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
    subprocess.run(cmd, check=True)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="sequential requests per target")
    ap.add_argument("--requests", type=int, default=5000, help="throughput requests per target")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM side")
    ap.add_argument("--no-stream", action="store_true", help="skip the stream=true runs")
    ap.add_argument(
        "--guard",
        choices=sorted(GUARDS),
        default="default",
        help="the route's guard: default (every scanner; injections blocked, PII and\n"
        "secrets redacted), record (injections recorded instead of blocked), off",
    )
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()

    figures: dict = {}
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="keel-gw-bench-") as tmp:
        home = Path(tmp) / "ws"
        up_port, gw_port, admin_port = free_port(), free_port(), free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        try:
            up = subprocess.Popen(
                [sys.executable, str(ANCHORS / "upstream.py"), "--port", str(up_port)],
                stdout=subprocess.DEVNULL,
            )
            procs.append(up)
            wait_http(up_port, "/health", up)
            key = workspace(home, upstream + "/v1", guard=a.guard)
            env = {
                **os.environ,
                "KEEL_HOME": str(home),
                "KEEL_DATABASE_URL": "",
                "KEEL_REDIS_URL": "",
            }
            gw = subprocess.Popen(
                [str(KEEL), "gateway", "--port", str(gw_port), "--admin-port", str(admin_port)],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            procs.append(gw)
            wait_http(admin_port, "/healthz", gw)
            via = f"http://127.0.0.1:{gw_port}"
            common = [
                "--n",
                str(a.n),
                "--concurrency",
                str(a.concurrency),
                "--requests",
                str(a.requests),
                "--duration",
                str(a.duration),
            ]
            stream = ["--n", str(max(100, a.n // 3)), "--concurrency", str(a.concurrency)]
            stream += [
                "--requests",
                str(max(500, a.requests // 3)),
                "--duration",
                str(a.duration),
                "--stream",
            ]
            guarded = f"guard: {a.guard}"
            print(
                f"== Keel gateway (auth + rpm/tpm limits + traffic log + {guarded}) ==", flush=True
            )
            figures["keel"] = bench(sys.executable, upstream, via, key, "support-chat-api", common)
            if not a.no_stream:
                figures["keel_stream"] = bench(
                    sys.executable, upstream, via, key, "support-chat-api", stream
                )
            import urllib.request

            metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read()
            served = sum(
                float(line.rpartition(" ")[2])
                for line in metrics.decode().splitlines()
                if line.startswith("keel_gateway_requests_total{")
            )
            stop(gw)  # flushes what the traffic log still holds
            figures["traffic_log"] = {"requests": int(served), "events": traffic_events(home)}

            litellm = ANCHORS_VENV / "bin" / "litellm"
            if not a.no_litellm and litellm.exists():
                lport = free_port()
                out = subprocess.run(
                    ["bash", str(ANCHORS / "litellm_proxy.sh"), str(lport), upstream + "/v1"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                pid = int(out.stdout.strip().splitlines()[-1])
                try:
                    lite = [
                        "--n",
                        str(min(a.n, 500)),
                        "--concurrency",
                        str(a.concurrency),
                        "--requests",
                        str(min(a.requests, 1500)),
                        "--duration",
                        str(a.duration),
                    ]
                    print(
                        "\n== LiteLLM proxy (1 worker, master key, no DB), same upstream ==",
                        flush=True,
                    )
                    figures["litellm"] = bench(
                        ANCHORS_VENV / "bin" / "python",
                        upstream,
                        f"http://127.0.0.1:{lport}",
                        LITELLM_KEY,
                        "bench",
                        lite,
                    )
                finally:
                    os.kill(pid, signal.SIGTERM)  # the way litellm_proxy.sh says to stop it
        finally:
            for proc in procs:
                stop(proc)

    figures["tokens"] = token_error()
    report(figures)
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))


def report(f: dict) -> None:
    keel = f["keel"]
    seq, tp = keel["sequential"]["added"], keel["throughput"]["via"]
    tp_added_p99 = tp["p99_ms"] - keel["throughput"]["direct"]["p99_ms"]
    print("\n== Keel gateway against the targets (issue #6) ==")
    rows = [
        ("median added latency, sequential", seq["median_ms"], "ms", 1.0, False),
        ("throughput at concurrency 8", tp["rps"], "req/s", 1000.0, True),
        ("p99 added at concurrency 8", tp_added_p99, "ms", 15.0, False),
    ]
    for label, value, unit, target, higher in rows:
        ok = value >= target if higher else value <= target
        ratio = value / target if higher else target / value if value > 0 else float("inf")
        print(
            f"  {label:36} {value:10.3f} {unit:6} target {'>=' if higher else '<='} {target:g}"
            f"  {'met' if ok else 'MISSED'} ({ratio:.1f}x)"
        )
    if "keel_stream" in f:
        s = f["keel_stream"]
        print(
            f"  stream=true: median added {s['sequential']['added']['median_ms']:.3f} ms, "
            f"{s['throughput']['via']['rps']:.0f} req/s at concurrency 8"
        )
    log = f.get("traffic_log", {})
    print(
        f"  traffic log: {log.get('requests')} requests answered, "
        f"{log.get('events', {}).get('requests')} gateway.request events in the audit spine "
        f"(+{log.get('events', {}).get('anomalies')} gateway.anomaly: the bench is a burst)"
    )
    if "litellm" in f:
        lite = f["litellm"]
        lseq, ltp = lite["sequential"]["added"], lite["throughput"]["via"]
        print("\n== side by side, same upstream, same run ==")
        print(f"  {'':36} {'Keel':>10} {'LiteLLM':>10} {'Keel better by':>15}")
        print(
            f"  {'median added latency (ms)':36} {seq['median_ms']:10.3f} {lseq['median_ms']:10.3f}"
            f" {lseq['median_ms'] / seq['median_ms']:14.1f}x"
        )
        print(
            f"  {'p99 added latency (ms)':36} {seq['p99_ms']:10.3f} {lseq['p99_ms']:10.3f}"
            f" {lseq['p99_ms'] / seq['p99_ms']:14.1f}x"
        )
        print(
            f"  {'req/s at concurrency 8':36} {tp['rps']:10.1f} {ltp['rps']:10.1f}"
            f" {tp['rps'] / ltp['rps']:14.1f}x"
        )
    else:
        print(
            "\n  LiteLLM not measured here; the anchors' figures (+10.4 ms median, 89-105 req/s) give "
            f"ratios {10.4 / seq['median_ms']:.0f}x latency, {tp['rps'] / 105:.0f}x throughput"
        )
    t = f.get("tokens")
    if t:
        print(
            f"\n  token estimate (chars/4) vs cl100k_base over {t['texts']} texts: median "
            f"{t['median_pct']:+.1f} %, p10 {t['p10_pct']:+.1f} %, p90 {t['p90_pct']:+.1f} %; "
            f"under-counts {t['under_pct']:.0f} % of texts"
        )


if __name__ == "__main__":
    main()
