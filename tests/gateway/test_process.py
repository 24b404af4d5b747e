"""End to end: real `keel gateway` processes in front of a real `keel serve-model`, driven by
the official openai SDK and plain HTTP."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import openai
import pytest

from keel import audit
from keel.gateway import keys, routes
from tests.gateway.conftest import CREDIT_ROW, make_key


def _chat(url: str, key: str, model: str = "support-chat-api", **extra) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "I lost my card"}], **extra},
        timeout=10,
    )


def _until(check, limit: float = 2.0) -> float:
    """Seconds until check() is true; fails past `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit + 1.0:
        if check():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"not within {limit} s")


def test_openai_sdk_chat_stream_embeddings_and_predict(sqlite_served, run_gateway):
    gw = run_gateway(sqlite_served.settings)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=sqlite_served.prod_key, max_retries=0)

    reply = client.chat.completions.create(
        model="support-chat-api", messages=[{"role": "user", "content": "I lost my card"}]
    )
    text = reply.choices[0].message.content
    assert "card" in text.lower()
    assert reply.usage.total_tokens > 0

    stream = client.chat.completions.create(
        model="support-chat-api",
        messages=[{"role": "user", "content": "I lost my card"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert chunks[-1].usage.total_tokens == reply.usage.total_tokens

    vectors = client.embeddings.create(
        model="support-chat-api", input=["lost card", "change my address"]
    )
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 10

    listed = sorted(m.id for m in client.models.list())
    assert listed == ["credit-decision-api", "support-chat-api"]

    scored = httpx.post(
        f"{gw.url}/v1/predict/credit-decision-api",
        headers={"Authorization": f"Bearer {sqlite_served.prod_key}"},
        json={"rows": [CREDIT_ROW, CREDIT_ROW]},
    )
    assert scored.status_code == 200, scored.text
    assert [r["label"] for r in scored.json()["data"]] == ["good", "good"]

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key="keel_gw_nope", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
        )


def test_changes_reach_a_running_gateway_within_two_seconds(served, run_gateway, admin):
    """New keys, route changes and revocations are live within 2 s while traffic flows,
    and no request in flight fails (each backend: the poll reads SQLite or PostgreSQL)."""
    gw = run_gateway(served.settings)
    failures: list[str] = []
    done = threading.Event()
    sent = [0]

    def load() -> None:
        with httpx.Client(timeout=10) as http:
            while not done.is_set():
                response = http.post(
                    f"{gw.url}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {served.prod_key}"},
                    json={
                        "model": "support-chat-api",
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                sent[0] += 1
                if response.status_code != 200:
                    failures.append(response.text)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        later = make_key(served.ws, admin, "late-comer")
        assert _until(lambda: _chat(gw.url, later).status_code == 200) <= 2.0

        with served.ws.write(admin) as session:
            routes.set_route(
                session,
                admin,
                "api:support-chat-api",
                "production",
                routes.list_routes(session)[0].upstream,
                model="assistant-v2",
                allow_ungoverned=True,
            )
        assert _until(lambda: _chat(gw.url, later).json().get("model") == "assistant-v2") <= 2.0

        with served.ws.write(admin) as session:
            keys.revoke_keys(session, admin, key=later)
        assert _until(lambda: _chat(gw.url, later).status_code == 401) <= 2.0
        body = _chat(gw.url, later).json()
        assert body["error"]["type"] == "authentication_error"
    finally:
        done.set()
        worker.join()
    assert sent[0] > 10
    assert failures == []


def test_a_staging_key_never_reaches_production(sqlite_served, run_gateway, admin, model_server):
    ws = sqlite_served.ws
    gw = run_gateway(sqlite_served.settings)
    staging = sqlite_served.staging_key
    refused = _chat(gw.url, staging)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "route_not_found"
    with ws.write(admin) as session:
        routes.set_route(
            session,
            admin,
            "api:support-chat-api",
            "staging",
            model_server.url,
            model="staging-assistant",
        )
    _until(lambda: _chat(gw.url, staging).status_code == 200)
    assert _chat(gw.url, staging).json()["model"] == "staging-assistant"
    assert _chat(gw.url, sqlite_served.prod_key).json()["model"] != "staging-assistant"
    # the staging key's /v1/models lists what staging routes, nothing of production's
    listed = httpx.get(f"{gw.url}/v1/models", headers={"Authorization": f"Bearer {staging}"})
    assert [m["id"] for m in listed.json()["data"]] == ["support-chat-api"]


def test_bad_input_gets_openai_errors_and_never_a_crash(sqlite_served, run_gateway, admin):
    ws = sqlite_served.ws
    with ws.write(admin) as session:
        _, expiring = keys.create_key(
            session,
            admin,
            "short-lived",
            ["api:support-chat-api"],
            "production",
            ttl=timedelta(seconds=1),
        )
        _, chat_only = keys.create_key(
            session, admin, "chat-only", ["api:support-chat-api"], "production", operations=["chat"]
        )
    gw = run_gateway(sqlite_served.settings, "--max-body", "4096")
    key = {"Authorization": f"Bearer {sqlite_served.prod_key}"}
    url = f"{gw.url}/v1/chat/completions"
    cases = [
        (
            httpx.post(url, headers={**key, "content-type": "application/json"}, content=b"{bad"),
            400,
            "invalid_json",
        ),
        (
            httpx.post(url, headers={**key, "content-type": "application/json"}, content=b"[1]"),
            400,
            "invalid_json",
        ),
        (
            httpx.post(url, headers={**key, "content-type": "text/plain"}, content=b"{}"),
            415,
            "unsupported_media_type",
        ),
        (
            httpx.post(
                url, headers=key, json={"messages": [{"role": "user", "content": "x" * 5000}]}
            ),
            413,
            "body_too_large",
        ),
        (httpx.post(f"{gw.url}/v1/nope", headers=key, json={}), 404, "unknown_url"),
        (httpx.get(url, headers=key), 405, "method_not_allowed"),
        (httpx.post(url, json={"model": "support-chat-api"}), 401, "invalid_api_key"),
        (httpx.post(url, headers={"Authorization": "Basic abc"}, json={}), 401, "invalid_api_key"),
        (
            httpx.post(url, headers={"Authorization": "Bearer keel_gw_forged"}, json={}),
            401,
            "invalid_api_key",
        ),
        (httpx.post(url, headers=key, json={"messages": []}), 400, "model_required"),
        (httpx.post(url, headers=key, json={"model": 7, "messages": []}), 400, "invalid_model"),
        (
            httpx.post(
                f"{gw.url}/v1/embeddings",
                headers={"Authorization": f"Bearer {chat_only}"},
                json={"input": "x"},
            ),
            403,
            "operation_not_allowed",
        ),
        (
            httpx.post(
                f"{gw.url}/v1/predict/credit-decision-api", headers=key, json={"rows": [["x"]]}
            ),
            400,
            "invalid_rows",
        ),
    ]
    time.sleep(1.1)
    cases.append(
        (
            httpx.post(url, headers={"Authorization": f"Bearer {expiring}"}, json={}),
            401,
            "invalid_api_key",
        )
    )
    for response, status, code in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and error["type"]
    assert "expired" in cases[-1][0].json()["error"]["message"]
    assert _chat(gw.url, sqlite_served.prod_key).status_code == 200  # still serving
    assert gw.popen.poll() is None


def test_traffic_log_and_metrics(sqlite_served, run_gateway, admin):
    ws = sqlite_served.ws
    limited = make_key(ws, admin, "limited", endpoints=["api:support-chat-api"], rpm=2)
    gw = run_gateway(sqlite_served.settings)
    canary = "canary-7f3a secret prompt text"
    for _ in range(3):
        httpx.post(
            f"{gw.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {limited}"},
            json={"messages": [{"role": "user", "content": canary}], "max_tokens": 20},
        )
    httpx.post(f"{gw.url}/v1/chat/completions", json={})  # no key
    last = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {limited}"},
        json={"messages": [{"role": "user", "content": canary}]},
    )
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert last.json()["error"]["type"] == "rate_limit_error"

    def logged():
        with ws.read() as session:
            return audit.list_events(session, log="traffic")

    _until(lambda: len(logged()) >= 5, 3.0)
    events = logged()
    decisions = [e.details["decision"] for e in events]
    assert decisions.count("allowed") == 2
    assert decisions.count("rate_limited:key-rpm") == 2
    assert decisions.count("unauthenticated") == 1
    allowed = next(e for e in events if e.details["decision"] == "allowed")
    assert allowed.action == "gateway.request.handled"
    assert allowed.subject == "api:default/support-chat-api"
    assert allowed.actor == {"id": "user:keel/gateway", "via": "system"}
    details = allowed.details
    assert details["environment"] == "production" and details["status"] == 200
    assert details["key"].startswith("gk_") and details["consumer"] == "limited"
    assert details["latency_ms"] > 0 and details["tokens"]["total"] > 0
    assert all(canary.encode() not in e.body for e in events)

    metrics = httpx.get(f"{gw.admin}/metrics").text
    assert 'keel_gateway_rate_limited_total{scope="key-rpm"} 2.0' in metrics
    assert "keel_gateway_request_seconds_bucket" in metrics
    assert 'decision="allowed"' in metrics and 'status="200"' in metrics
    assert "keel_gateway_traffic_events_total" in metrics
    # admin operations are not on the traffic port, and metrics are not either
    assert httpx.get(f"{gw.url}/metrics").status_code == 404
    assert httpx.get(f"{gw.url}/api/v1/gateway/keys").status_code == 404


def test_requests_record_the_release_their_environment_serves(
    sqlite_served, run_gateway, admin, model_server, credit_artifacts
):
    """A promotion reaches a running gateway like any config change: the next requests and
    /v1/models name the release staging now serves."""
    from keel.identity import user_actor
    from tests.pipeline.test_promotion import CHEN, IVO, _approve, _evidence, _promote, _release

    ws = sqlite_served.ws
    engineer = user_actor("user:default/ana.lima", "local")
    with ws.write(admin) as session:
        routes.set_route(
            session,
            admin,
            "credit-decision-api",
            "staging",
            model_server.url,
            model="credit-scorer",
        )
    staging = make_key(ws, admin, "credit-staging", environment="staging")
    gw = run_gateway(sqlite_served.settings)

    def predict() -> httpx.Response:
        return httpx.post(
            f"{gw.url}/v1/predict/credit-decision-api",
            headers={"Authorization": f"Bearer {staging}"},
            json={"rows": [CREDIT_ROW]},
        )

    def models() -> list[dict]:
        answer = httpx.get(f"{gw.url}/v1/models", headers={"Authorization": f"Bearer {staging}"})
        return answer.json()["data"]

    assert predict().status_code == 200
    assert models()[0]["release"] is None
    release = _release(ws, engineer, credit_artifacts["credit-scorer"])
    _evidence(ws, CHEN, release)  # not the author: separation of duties
    _approve(ws, IVO, release, "mlEngineer")
    assert _promote(ws, engineer, release, "staging").allowed
    assert _until(lambda: models()[0]["release"] == release.name) <= 2.0
    assert predict().status_code == 200

    def logged() -> list:
        with ws.read() as session:
            return [
                e.details["release"]
                for e in audit.list_events(session, log="traffic")
                if e.details["operation"] == "predict"
            ]

    _until(lambda: len(logged()) == 2, 3.0)
    assert logged() == [None, release.name]
