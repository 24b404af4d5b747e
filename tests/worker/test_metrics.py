"""`/metrics` of a real `keel serve`, scraped with a real HTTP client and read with Prometheus'
own parser: the workspace's figures, named by the conventions, open only to this host."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel import audit
from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service
from keel.worker import runner
from tests.conftest import EXAMPLES, REPO
from tests.servers import free_port
from tests.worker.helpers import env_for

NAME = re.compile(r"^keel_[a-z0-9_]+$")
UNBOUNDED = {"id", "user", "token", "key", "request", "consumer", "op", "seq"}


@pytest.fixture
def served(sqlite_ws, admin):
    """A workspace with the demo catalog, a worker pass and a refusal, served by `keel serve`."""
    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        _, token = create_token(session, admin, "dara.kim", "viewer")
        audit.append(
            session,
            admin,
            [audit.Change("pipeline.promotion.refused", "model:x@1", {"reason": "no"})],
        )
    from datetime import UTC, datetime

    runner.once(sqlite_ws, runner.load(), datetime.now(UTC))
    sqlite_ws.seal()  # as the CLI does when it exits
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "keel"), "serve", "--port", str(port)],
        env=env_for(sqlite_ws.settings),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(process.communicate()[1].decode()[-800:]) from None
            time.sleep(0.2)
    try:
        yield url, token, sqlite_ws
    finally:
        process.terminate()
        process.communicate(timeout=30)


def scrape(text: str) -> dict[str, dict[tuple, float]]:
    """family -> {labels as sorted tuples: value}, through prometheus_client's parser."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_the_control_plane_serves_its_figures_to_prometheus(served):
    url, _, ws = served
    answer = httpx.get(f"{url}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    figures = scrape(answer.text)
    assert figures["keel_releases_served"] == {
        (("environment", "production"),): 0.0,
        (("environment", "staging"),): 0.0,
    }
    assert figures["keel_releases_created_total"] == {(): 0.0}
    assert set(figures["keel_approvals_pending"]) == {
        (("environment", "production"),),
        (("environment", "staging"),),
    }
    assert figures["keel_refusals_total"] == {(("action", "pipeline.promotion.refused"),): 1.0}
    scores = figures["keel_readiness_score"]
    assert (("system", "system:default/credit-decisioning"),) in scores
    assert all(0 <= v <= 100 for v in scores.values())
    runs = figures["keel_worker_job_runs_total"]
    assert runs[(("job", "audit.verify"), ("result", "ok"))] == 1.0
    assert runs[(("job", "audit.verify"), ("result", "failed"))] == 0.0
    assert figures["keel_audit_unsigned_events"][(("log", "governance"),)] == 0.0
    assert set(figures["keel_metrics_collector_up"].values()) == {1.0}
    with ws.write(runner.WORKER) as session:  # one more refusal: counted on the next scrape
        audit.append(
            session,
            runner.WORKER,
            [audit.Change("readiness.advance.refused", "system:x", {"reason": "no"})],
        )
    again = scrape(httpx.get(f"{url}/metrics").text)["keel_refusals_total"]
    assert again[(("action", "readiness.advance.refused"),)] == 1.0
    assert again[(("action", "pipeline.promotion.refused"),)] == 1.0


def test_names_and_labels_follow_the_conventions(served):
    url, _, _ = served
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        assert NAME.match(family.name), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        assert not family.name.endswith("_total") or family.type == "counter"
        for sample in family.samples:
            assert not set(sample.labels) & UNBOUNDED, (family.name, sample.labels)


def test_from_elsewhere_metrics_need_a_token(served):
    url, token, _ = served
    proxied = {"X-Forwarded-For": "203.0.113.9"}  # a proxy on this host, forwarding a stranger
    refused = httpx.get(f"{url}/metrics", headers=proxied)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["detail"] == "/metrics needs a bearer token from outside this host"
    wrong = httpx.get(
        f"{url}/metrics", headers={**proxied, "Authorization": "Bearer keel_pat_nope"}
    )
    assert wrong.status_code == 401
    allowed = httpx.get(f"{url}/metrics", headers={**proxied, "Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200 and "keel_worker_job_runs_total" in allowed.text
    assert (
        httpx.get(f"{url}/api/v1/metrics", headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )


def test_a_peer_that_is_not_loopback_needs_a_token(sqlite_ws):
    app = create_app(ws=sqlite_ws)

    async def status(peer: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://keel") as client:
            return (await client.get("/metrics")).status_code

    # A thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        for peer, expected in [("198.51.100.7", 401), ("127.0.0.1", 200), ("::1", 200)]:
            assert pool.submit(asyncio.run, status(peer)).result() == expected, peer
