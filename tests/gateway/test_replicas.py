"""Two gateway processes on one Redis share one allowance: the limit, not limit x replicas."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import httpx

from tests.gateway.conftest import make_key

LIMIT = 12


def _chat(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "support-chat-api", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def _burst(gateways, key: str, n: int) -> list[tuple[str, httpx.Response]]:
    targets = [gw.url for gw, _ in zip(cycle(gateways), range(n), strict=False)]
    with ThreadPoolExecutor(8) as pool:
        return list(zip(targets, pool.map(lambda url: _chat(url, key), targets), strict=True))


def _clear_of_minute_boundary() -> None:
    """The in-memory windows turn on the minute; keep a burst inside one."""
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


def test_two_replicas_on_one_redis_allow_the_limit_once(
    sqlite_served, run_gateway, admin, redis_url
):
    key = make_key(sqlite_served.ws, admin, endpoints=["api:support-chat-api"], rpm=LIMIT)
    # what is tested is the shared allowance: a deadline well above the 50 ms default, as a
    # loaded 2-core CI machine can stall a gateway's event loop past 50 ms
    slack = ("--redis-timeout", "0.5")
    a = run_gateway(sqlite_served.settings, *slack, env={"KEEL_REDIS_URL": redis_url})
    b = run_gateway(sqlite_served.settings, *slack, "--redis", redis_url)
    results = _burst([a, b], key, 3 * LIMIT)
    statuses = [r.status_code for _, r in results]
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * LIMIT
    assert {url for url, r in results if r.status_code == 200} == {a.url, b.url}
    refused = next(r for _, r in results if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_without_redis_each_replica_counts_alone(sqlite_served, run_gateway, admin):
    """What Redis prevents (LiteLLM #40291): in-memory limits multiply by the replicas."""
    key = make_key(sqlite_served.ws, admin, endpoints=["api:support-chat-api"], rpm=LIMIT)
    a = run_gateway(sqlite_served.settings, env={"KEEL_REDIS_URL": ""})
    b = run_gateway(sqlite_served.settings, env={"KEEL_REDIS_URL": ""})
    _clear_of_minute_boundary()
    statuses = [r.status_code for _, r in _burst([a, b], key, 3 * LIMIT)]
    assert statuses.count(200) == 2 * LIMIT
