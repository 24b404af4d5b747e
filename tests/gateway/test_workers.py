"""`keel gateway --workers N`: real worker processes under a real supervisor, on a real
upstream (`keel serve-model`), a real Redis and both stores.

Requests land on every worker; one allowance across them; every answered request has
exactly one record in the traffic log, whose sequence stays one verifiable Merkle log; a
killed worker is replaced and loses no record; SIGTERM stops them all; a worker that keeps
dying stops the gateway with one line; a bad `--workers` is one line and exit 2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel import audit
from keel.audit import log as audit_log
from keel.gateway import journal
from keel.gateway.workers import merge_metrics
from tests.gateway.conftest import KEEL, make_key, workspace_env
from tests.servers import free_port

BODY = {"model": "support-chat-api", "messages": [{"role": "user", "content": "hi"}]}


def _workers(run_gateway, setup, redis_url, count: int = 2, *extra: str):
    # a deadline well above the 50 ms default: a loaded 2-core machine stalls event loops
    return run_gateway(
        setup.settings, "--workers", str(count), "--redis", redis_url, "--redis-timeout", "0.5"
    )


def _chat(url: str, key: str) -> httpx.Response:
    """One request on a connection of its own, so the kernel picks a worker for each."""
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json=BODY,
        timeout=20,
    )


def _served_by(gw) -> dict[str, float]:
    """Requests answered per worker, from the supervisor's merged /metrics."""
    text = httpx.get(f"{gw.admin}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "keel_gateway_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    worker = sample.labels["worker"]
                    out[worker] = out.get(worker, 0) + sample.value
    return out


def _pids(gw) -> list[int]:
    return [w["pid"] for w in httpx.get(f"{gw.admin}/healthz", timeout=5).json()["workers"]]


def _first_pid(gw) -> int | None:
    """Worker 1's pid while the supervisor answers, else None."""
    try:
        return _pids(gw)[0]
    except httpx.TransportError:
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _traffic(ws) -> list:
    with ws.read() as session:
        return audit.list_events(session, log="traffic")


def _until(check, limit: float = 20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("not within the time limit")


def _sigterm(gw, timeout: float = 60) -> int:
    gw.popen.send_signal(signal.SIGTERM)
    return gw.popen.wait(timeout=timeout)


def _verified(ws) -> None:
    """The traffic log is one Merkle log, every checkpoint consistent: no fork."""
    with ws.read() as session:
        results = audit_log.verify_logs(
            session, ws.name, ["traffic"], pinned=ws.signer().public_key
        )
    assert all(r.ok for r in results), [r.problems for r in results]


def test_two_workers_share_the_traffic_and_every_record_is_stored_once(
    served, run_gateway, redis_url
):
    gw = _workers(run_gateway, served, redis_url)
    pids = _pids(gw)
    assert len(set(pids)) == 2 and gw.popen.pid not in pids
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _chat(gw.url, served.prod_key), range(120)))
    assert [a.status_code for a in answers] == [200] * 120
    ids = [a.headers["x-request-id"] for a in answers]
    by_worker = _served_by(gw)
    assert set(by_worker) == {"1", "2"} and all(n > 0 for n in by_worker.values()), by_worker
    assert sum(by_worker.values()) == 120
    assert len({i.split("-")[0] for i in ids}) == 2  # each worker names its own requests

    assert _sigterm(gw) == 0
    events = _traffic(served.ws)
    recorded = [e.details["request"] for e in events if e.action == "gateway.request.handled"]
    assert sorted(recorded) == sorted(ids)  # none lost, none twice
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # one sequence
    _verified(served.ws)


def test_rate_limits_hold_across_workers(sqlite_served, run_gateway, admin, redis_url):
    key = make_key(sqlite_served.ws, admin, endpoints=["api:support-chat-api"], rpm=12)
    gw = _workers(run_gateway, sqlite_served, redis_url)
    with ThreadPoolExecutor(8) as pool:
        statuses = [a.status_code for a in pool.map(lambda _: _chat(gw.url, key), range(36))]
    assert statuses.count(200) == 12 and statuses.count(429) == 24
    assert set(_served_by(gw)) == {"1", "2"}  # both workers took part


def test_sigterm_stops_every_worker_and_leaves_no_journal(sqlite_served, run_gateway, redis_url):
    gw = _workers(run_gateway, sqlite_served, redis_url, 3)
    pids = _pids(gw)
    assert len(set(pids)) == 3 and all(_alive(p) for p in pids)
    for _ in range(20):
        assert _chat(gw.url, sqlite_served.prod_key).status_code == 200
    assert _sigterm(gw) == 0
    assert not any(_alive(p) for p in pids)
    assert list(journal.folder_of(sqlite_served.ws).iterdir()) == []  # all stored, all gone
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{gw.url}/openapi.json", timeout=2)


def test_a_killed_worker_is_replaced_and_no_answered_request_loses_its_record(
    sqlite_served, run_gateway, redis_url
):
    gw = _workers(run_gateway, sqlite_served, redis_url)
    first = _pids(gw)
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answer = _chat(gw.url, sqlite_served.prod_key)
            except httpx.TransportError:
                continue  # its worker died before answering: nothing was released
            if answer.status_code == 200:
                answered.append(answer.headers["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        os.kill(first[0], signal.SIGKILL)
        health = _until(
            lambda: (h := httpx.get(f"{gw.admin}/healthz").json())["workers"][0]["restarts"] and h
        )
        assert health["status"] == "ok" and health["workers"][0]["restarts"] == 1
        assert health["workers"][0]["pid"] not in first and health["workers"][1]["pid"] == first[1]
        time.sleep(1.0)  # the replacement serves too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert "worker 1 (pid" in gw.output() and "was killed by SIGKILL" in gw.output()
    assert _served_by(gw).get("1", 0) > 0  # the replacement's own counters
    assert _sigterm(gw) == 0
    ids = [e.details["request"] for e in _traffic(sqlite_served.ws) if "request" in e.details]
    assert len(answered) > 10 and set(answered) <= set(ids), gw.output()  # a loaded host: few
    assert len(ids) == len(set(ids))
    _verified(sqlite_served.ws)


def test_a_worker_that_keeps_dying_stops_the_gateway_with_one_line(
    sqlite_served, run_gateway, redis_url
):
    gw = _workers(run_gateway, sqlite_served, redis_url)
    other = _pids(gw)[1]
    for _ in range(5):
        pid = _until(lambda: _first_pid(gw))
        os.kill(pid, signal.SIGKILL)
        _until(lambda pid=pid: gw.popen.poll() is not None or _first_pid(gw) != pid)
    assert gw.popen.wait(timeout=60) == 1
    last = gw.output().strip().splitlines()[-1]
    assert last.startswith("error: worker 1 died 5 times within 60 s"), gw.output()
    assert not _alive(other)


@pytest.mark.parametrize(
    ("value", "redis", "says"),
    [
        ("0", True, "from 1 to 64"),
        ("65", True, "from 1 to 64"),
        ("-1", True, "from 1 to 64"),
        ("two", True, "from 1 to 64"),
        ("2", False, "needs --redis"),
    ],
)
def test_a_bad_workers_value_is_one_line_and_exit_2(sqlite_served, redis_url, value, redis, says):
    env = {**os.environ, **workspace_env(sqlite_served.settings), "KEEL_REDIS_URL": ""}
    args = [*KEEL, "gateway", "--port", str(free_port()), f"--workers={value}"]
    if redis:
        args += ["--redis", redis_url]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: --workers") and says in done.stderr


def test_a_port_already_served_is_refused_not_shared(sqlite_served, run_gateway, redis_url):
    """SO_REUSEPORT would let a second gateway join the first one's port silently."""
    gw = _workers(run_gateway, sqlite_served, redis_url)
    port = gw.url.rsplit(":", 1)[1]
    env = {**os.environ, **workspace_env(sqlite_served.settings)}
    args = [*KEEL, "gateway", "--port", port, "--admin-port", "0"]
    done = subprocess.run(
        [*args, "--workers", "2", "--redis", redis_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.startswith(
        f"error: cannot listen on 127.0.0.1:{port}"
    )
    assert len(done.stderr.splitlines()) == 1
    plain = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert plain.returncode != 0  # one process gateway: uvicorn's bind fails too
    assert _chat(gw.url, sqlite_served.prod_key).status_code == 200


def test_merged_metrics_label_every_series_with_its_worker():
    one = b'# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="b"} 2.0\n'
    two = b'# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="b"} 3.0\n'
    text = merge_metrics([(1, one.decode()), (2, two.decode())], {1: 0, 2: 4}).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families["x"].samples}
    assert samples == {
        ("x_total", (("a", "b"), ("worker", "1"))): 2.0,
        ("x_total", (("a", "b"), ("worker", "2"))): 3.0,
    }
    assert families["keel_gateway_workers"].samples[0].value == 2
    restarts = {
        s.labels["worker"]: s.value for s in families["keel_gateway_worker_restarts"].samples
    }
    assert restarts == {"1": 0, "2": 4}
    assert text.count("# TYPE x_total counter") == 1  # one family, not one per worker


def test_recovery_leaves_a_journal_being_made_alone(sqlite_ws, tmp_path):
    """Workers start together: one must never take another's folder before it is locked."""
    import fcntl

    from keel.gateway.traffic import TrafficLog

    root = journal.folder_of(sqlite_ws)
    root.mkdir(parents=True)
    making = root / ".123-abcd"
    making.mkdir()
    lock = os.open(making / journal.LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.utime(making, (time.time() - 600, time.time() - 600))
    abandoned = root / ".456-ef01"
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 600, time.time() - 600))
    mine = journal.Journal(root, TrafficLog(sqlite_ws))
    mine.open()
    try:
        assert mine.folder.is_dir() and not (root / f".{mine.folder.name}").exists()
        assert journal.recover(sqlite_ws, mine) == 0
        assert making.is_dir()  # its maker holds the lock: left alone
        assert not abandoned.exists()  # a maker died before locking it: swept
    finally:
        os.close(lock)
        mine.close()
