"""The hot path in process: failures of real (local) upstreams, the breaker, token
reservations, endpoint limits, and the guard hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import orjson
from aiohttp import web

from keel.gateway import config, errors
from keel.gateway.app import Gateway
from keel.gateway.breaker import Breaker
from keel.gateway.config import Grant, Snapshot
from keel.gateway.hooks import Call, Hooks
from keel.gateway.keys import OPERATIONS, digest
from keel.gateway.routes import Route
from tests.gateway.conftest import free_port

EP = "api:default/support-chat-api"
SECRET = "keel_gw_test-secret"
OTHER = "keel_gw_other-secret"
ANSWER = {
    "object": "chat.completion",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
}
SSE = [
    b'data: {"choices":[{"index":0,"delta":{"content":"hel"}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
    b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n',
    b"data: [DONE]\n\n",
]


class Upstream:
    """Local upstreams, one per path prefix: ok, garbage, fail, slow, refuse, stream, cut."""

    def __init__(self) -> None:
        self.healthy = True
        self.seen_keys: list[str | None] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/v1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        await request.read()
        if kind == "flaky":
            kind = "ok" if self.healthy else "fail"
        if kind == "ok":
            return web.json_response(ANSWER)
        if kind == "named":  # an upstream serving two releases says which one answered
            release = "model:default/support-assistant-model@2"
            return web.json_response(ANSWER, headers={"x-keel-release": release})
        if kind == "garbage":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if kind == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if kind == "refuse":
            return web.json_response({"error": {"message": "bad field"}}, status=400)
        if kind == "slow":
            await asyncio.sleep(2)
            return web.json_response(ANSWER)
        if kind == "keyed":  # a provider: answers only its own key
            self.seen_keys.append(request.headers.get("Authorization"))
            if request.headers.get("Authorization") != "Bearer provider-secret":
                return web.json_response({"error": {"message": "bad key"}}, status=401)
            return web.json_response(ANSWER)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in SSE[: 2 if kind == "cut" else None]:
            await response.write(chunk)
        if kind == "cut":
            request.transport.close()  # the upstream dies midway
        return response

    async def __aenter__(self) -> Upstream:
        app = web.Application()
        app.router.add_post("/{kind}/v1/chat/completions", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def snapshot(
    upstream: str,
    *,
    rpm=None,
    tpm=None,
    route_rpm=None,
    timeout=None,
    capture=False,
    credential_env=None,
    limits_fail="closed",
) -> Snapshot:
    grants = {
        digest(secret): Grant(
            key_id, "tester", "production", frozenset({EP}), frozenset(OPERATIONS), rpm, tpm, None
        )
        for key_id, secret in (("gk_one", SECRET), ("gk_two", OTHER))
    }
    route = Route(
        EP,
        "production",
        upstream,
        rpm=route_rpm,
        timeout=timeout,
        capture=capture,
        credential_env=credential_env,
        limits_fail=limits_fail,
    )
    return Snapshot(
        1,
        grants,
        {(EP, "production"): route},
        config._aliases([EP]),
        config._names([EP]),
        {(EP, "production"): ("model:default/support-assistant-model@1",)},
    )


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict] = []

    def record(
        self, details: dict, action="gateway.request.handled", subject=None, payload=None
    ) -> None:
        self.records.append(
            details if action == "gateway.request.handled" else {"action": action, **details}
        )


def scenario(snap: Snapshot | Callable[[Upstream], Snapshot], body, **kwargs) -> Any:
    """Run `body(client, gateway, upstream)` against a gateway over `snap`."""

    async def main():
        async with Upstream() as upstream:
            current = snap(upstream) if callable(snap) else snap
            kwargs.setdefault("traffic", Recorder())
            gateway = Gateway(lambda: current, **kwargs)
            await gateway.start()
            try:
                transport = httpx.ASGITransport(app=gateway)
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                    return await body(client, gateway, upstream)
            finally:
                await gateway.stop()

    return asyncio.run(main())


async def chat(client: httpx.AsyncClient, secret: str = SECRET, **extra) -> httpx.Response:
    body = {"model": "support-chat-api", "messages": [{"role": "user", "content": "hi"}], **extra}
    return await client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


def test_upstream_failures_become_openai_errors():
    results = {}

    async def body(client, gateway, upstream):
        for kind in ("ok", "garbage", "fail", "refuse", "slow"):
            gateway.snapshot = lambda kind=kind: snapshot(upstream.url(kind), timeout=0.3)
            results[kind] = await chat(client)
        dead = f"http://127.0.0.1:{free_port()}/v1"
        gateway.snapshot = lambda: snapshot(dead)
        results["refused"] = await chat(client)
        return gateway.traffic.records

    records = scenario(snapshot("http://unused/v1"), body)
    assert results["ok"].status_code == 200 and results["ok"].json() == ANSWER
    expected = {
        "garbage": (502, "upstream_garbage"),
        "fail": (502, "upstream_http_500"),
        "slow": (504, "upstream_timeout"),
        "refused": (502, "upstream_unreachable"),
    }
    for kind, (status, code) in expected.items():
        assert results[kind].status_code == status, kind
        assert results[kind].json()["error"]["code"] == code
        assert results[kind].json()["error"]["type"] == "api_error"
    # the upstream's own 4xx reaches the client unchanged
    assert results["refuse"].status_code == 400
    assert results["refuse"].json() == {"error": {"message": "bad field"}}
    decisions = [r["decision"] for r in records]
    assert decisions == [
        "allowed",
        *["upstream_error"] * 2,
        "upstream_refused",
        *["upstream_error"] * 2,
    ]
    assert records[0]["release"] == "model:default/support-assistant-model@1"
    assert records[0]["tokens"]["total"] == 30


def test_a_provider_gets_its_key_from_the_gateways_environment(monkeypatch):
    """The route names an environment variable; the secret is sent to the upstream only, and
    the client's own Keel key never is."""
    results = []

    async def body(client, gateway, upstream):
        gateway.snapshot = lambda: snapshot(
            upstream.url("keyed"), credential_env="KEEL_TEST_PROVIDER_KEY"
        )
        monkeypatch.delenv("KEEL_TEST_PROVIDER_KEY", raising=False)
        results.append(await chat(client))
        monkeypatch.setenv("KEEL_TEST_PROVIDER_KEY", "provider-secret")
        results.append(await chat(client))
        monkeypatch.setenv("KEEL_TEST_PROVIDER_KEY", "stale-secret")
        results.append(await chat(client))
        return upstream.seen_keys

    seen = scenario(snapshot("http://unused/v1"), body)
    missing, ok, stale = results
    assert missing.status_code == 502
    assert missing.json()["error"]["code"] == "upstream_credential_missing"
    assert "KEEL_TEST_PROVIDER_KEY" in missing.json()["error"]["message"]
    assert ok.status_code == 200 and ok.json() == ANSWER
    assert stale.status_code == 401  # the provider's own refusal reaches the client
    assert seen == ["Bearer provider-secret", "Bearer stale-secret"]


def test_every_aiohttp_failure_is_translated():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = set(subclasses(aiohttp.ClientError))
    assert len(found) > 10
    for cls in found:
        err = errors.translate(cls.__new__(cls))
        assert err.status in (502, 504), cls
        assert err.code != "gateway_error", cls
    assert errors.translate(TimeoutError()).status == 504
    assert errors.translate(ValueError("not JSON")).code == "upstream_garbage"


def test_the_breaker_opens_then_probes_and_closes():
    async def body(client, gateway, upstream):
        upstream.healthy = False
        first = [(await chat(client)).status_code for _ in range(3)]
        refused = await chat(client)
        upstream.healthy = True
        still = await chat(client)
        await asyncio.sleep(0.35)
        probe = await chat(client)
        after = await chat(client)
        return first, refused, still, probe, after

    first, refused, still, probe, after = scenario(
        lambda up: snapshot(up.url("flaky")), body, breaker=Breaker(threshold=3, cooldown=0.3)
    )
    assert first == [502, 502, 502]
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "upstream_unavailable"
    assert still.status_code == 503
    assert probe.status_code == 200 and after.status_code == 200


def test_streams_pass_through_and_a_cut_ends_with_an_error_event():
    async def body(client, gateway, upstream):
        whole = await chat(client, stream=True)
        gateway.snapshot = lambda: snapshot(upstream.url("cut"), tpm=10_000)
        cut = await chat(client, stream=True)
        return whole, cut, gateway.traffic.records

    whole, cut, records = scenario(lambda up: snapshot(up.url("stream"), tpm=10_000), body)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "text/event-stream"
    assert whole.content == b"".join(SSE)
    assert records[0]["tokens"]["total"] == 7  # settled with the stream's own usage
    assert cut.status_code == 200
    assert cut.content.startswith(SSE[0] + SSE[1])
    last = orjson.loads(cut.content.rstrip().rpartition(b"data: ")[2])
    assert last["error"]["type"] == "api_error"
    assert records[1]["decision"] == "upstream_error"


def test_tokens_are_reserved_up_front_and_settled_with_usage():
    async def body(client, gateway, upstream):
        first = await chat(client, max_tokens=500)
        from keel.gateway.ratelimit import Check

        left = await gateway.limiter.remaining(Check("key-tpm", "gk_one", 1000, 1))
        too_big = await chat(client, max_tokens=2000)
        return first, left, too_big

    first, left, too_big = scenario(lambda up: snapshot(up.url("ok"), tpm=1000), body)
    assert first.status_code == 200
    assert left == 1000 - 30  # the reservation (~510) was replaced by the usage (30)
    assert too_big.status_code == 429
    assert "lower max_tokens" in too_big.json()["error"]["message"]


def test_endpoint_limits_apply_across_keys():
    async def body(client, gateway, upstream):
        return [(await chat(client, secret)).status_code for secret in (SECRET, OTHER, SECRET)]

    statuses = scenario(lambda up: snapshot(up.url("ok"), route_rpm=2), body)
    assert statuses == [200, 200, 429]


class Uppercase:
    """An output hook of the kind a guard is: sees every byte before the client."""

    async def response(self, call: Call, body: bytes) -> bytes:
        return body.replace(b"hello", b"HELLO")

    def stream(self, call: Call):
        class Filter:
            def feed(self, chunk: bytes) -> bytes:
                return chunk.replace(b'"hel"', b'"HEL"')

            def end(self) -> bytes:
                return b""

        return Filter()


async def refuse_secrets(call: Call) -> None:
    """An input hook of the kind a guard is: findings by type and position, never text."""
    for i, message in enumerate((call.body or {}).get("messages", [])):
        at = message.get("content", "").find("sk-")
        if at >= 0:
            call.findings.append({"type": "secret", "message": i, "start": at})
            raise errors.blocked("the prompt holds a secret")


def test_guard_hooks_can_block_record_findings_and_rewrite_answers():
    async def body(client, gateway, upstream):
        blocked = await client.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {SECRET}"},
            json={"messages": [{"role": "user", "content": "my key is sk-abc"}]},
        )
        plain = await chat(client)
        gateway.snapshot = lambda: snapshot(upstream.url("stream"))
        streamed = await chat(client, stream=True)
        return blocked, plain, streamed, gateway.traffic.records

    hooks = Hooks(input=[refuse_secrets], output=[Uppercase()])
    blocked, plain, streamed, records = scenario(
        lambda up: snapshot(up.url("ok")), body, hooks=hooks
    )
    assert blocked.status_code == 400
    assert blocked.json()["error"]["code"] == "blocked_by_guard"
    assert records[0]["decision"] == "blocked"
    assert records[0]["findings"] == [{"type": "secret", "message": 0, "start": 10}]
    assert "sk-abc" not in orjson.dumps(records).decode()
    assert plain.json()["choices"][0]["message"]["content"] == "HELLO"
    assert b'"HEL"' in streamed.content


def test_a_dead_limit_store_fails_closed_unless_the_route_fails_open():
    """Redis down: a route refuses (503, the default) or serves unchecked, as it says; then
    the breaker stops asking the dead store at all."""
    from keel.gateway.ratelimit import Limiter

    async def body(client, gateway, upstream):
        closed = [await chat(client) for _ in range(4)]
        gateway.snapshot = lambda: snapshot(upstream.url("ok"), rpm=5, limits_fail="open")
        opened = await chat(client)
        return closed, opened, gateway.traffic.records, gateway.metrics.render()

    dead = f"redis://127.0.0.1:{free_port()}/0"
    limiter = Limiter(dead)
    closed, opened, records, metrics = scenario(
        lambda up: snapshot(up.url("ok"), rpm=5), body, limiter=limiter
    )
    assert [r.status_code for r in closed] == [503] * 4
    assert closed[0].json()["error"]["code"] == "limits_unavailable"
    assert "fails closed" in closed[0].json()["error"]["message"]
    assert int(closed[0].headers["retry-after"]) >= 1
    assert [r["decision"] for r in records[:4]] == ["limits_unavailable"] * 4
    assert opened.status_code == 200
    assert records[4]["limit"] == "unchecked" and records[4]["decision"] == "allowed"
    assert "limit" not in records[0]
    assert limiter.breaker.is_open("limits")  # 3 failures in a row: not asked any more
    assert b"keel_gateway_limiter_errors_total 5.0" in metrics


def test_a_burst_raises_an_anomaly_event_and_throttles_the_key():
    from keel.gateway.anomaly import Detector

    async def body(client, gateway, upstream):
        statuses = [(await chat(client)).status_code for _ in range(12)]
        other = await chat(client, OTHER)  # another key is not affected
        return statuses, other, gateway.traffic.records, gateway.metrics.render()

    detector = Detector(mode="throttle", burst_floor=8)
    statuses, other, records, metrics = scenario(
        lambda up: snapshot(up.url("ok")), body, detector=detector
    )
    assert statuses[:9] == [200] * 9 and set(statuses[9:]) == {429}
    assert other.status_code == 200
    [event] = [r for r in records if r.get("action") == "gateway.anomaly.detected"]
    assert event["kind"] == "burst" and event["key"] == "gk_one" and event["requests"] == 9
    assert [r["decision"] for r in records if "decision" in r][9:12] == ["throttled"] * 3
    assert b'keel_gateway_anomalies_total{kind="burst"} 1.0' in metrics


def test_payload_capture_is_opt_in_per_route_and_stored_redacted(sqlite_ws):
    """The writer thread redacts; the log never holds the raw text."""
    from keel import audit
    from keel.gateway.traffic import TrafficLog

    secret_text = "mail jane.doe@example.com my key AKIAIOSFODNN7EXAMPLE"

    async def body(client, gateway, upstream):
        await chat(client, messages=[{"role": "user", "content": secret_text}])
        gateway.snapshot = lambda: snapshot(upstream.url("ok"))
        await chat(client, messages=[{"role": "user", "content": secret_text}])

    log = TrafficLog(sqlite_ws)
    scenario(lambda up: snapshot(up.url("ok"), capture=True), body, traffic=log)
    log.flush()
    with sqlite_ws.read() as session:
        captured, plain = audit.list_events(session, log="traffic")
    payload = captured.details["payload"]
    assert payload["request"]["messages"][0]["content"] == (
        "mail [REDACTED:EMAIL_ADDRESS] my key [REDACTED:AWS_ACCESS_KEY_ID]"
    )
    assert payload["response"]["choices"][0]["message"]["content"] == "hello"
    assert "payload" not in plain.details
    assert b"jane.doe" not in captured.body and b"AKIAIOSFODNN7" not in captured.body


def test_redaction_bounds_what_it_keeps():
    from keel.gateway.capture import MAX_CHARS, MAX_ITEMS, redact_payload

    long = redact_payload({"t": "a" * (MAX_CHARS + 5), "n": 3, "ok": True, "none": None})
    assert long["t"].endswith("[TRUNCATED]") and long["n"] == 3 and long["none"] is None
    wide = redact_payload(list(range(MAX_ITEMS + 1)))
    assert len(wide) == MAX_ITEMS + 1 and wide[-1] == "[TRUNCATED]"
    deep: list = []
    for _ in range(20):
        deep = [deep]
    assert "[TRUNCATED]" in str(redact_payload(deep))


def test_odd_paths_and_headers_are_refused_cleanly():
    async def body(client, gateway, upstream):
        out = []
        for path in ("/v1/predict/", "/v1/predict/a/b", "/v1/%FF%FE", "/v1/chat/completions/"):
            out.append(
                await client.post(path, json={}, headers={"Authorization": f"Bearer {SECRET}"})
            )
        out.append(
            await client.post(
                "/v1/chat/completions",
                content=b"{}",
                headers={
                    "Authorization": "Bearer " + "x" * 300,
                    "content-type": "application/json",
                },
            )
        )
        return out

    answers = scenario(lambda up: snapshot(up.url("ok")), body)
    assert [a.status_code for a in answers] == [404, 404, 404, 404, 401]
    assert all(a.json()["error"]["message"] for a in answers)


def test_the_record_names_the_release_that_answered_when_two_serve():
    """Two promoted releases serve one route: the one the upstream names is recorded; an
    answer that does not say is recorded with none, and both listed."""
    both = (
        "model:default/support-assistant-model@1",
        "model:default/support-assistant-model@2",
    )

    def two(url: str) -> Snapshot:
        snap = snapshot(url)
        return Snapshot(
            snap.version,
            snap.keys,
            snap.routes,
            snap.aliases,
            snap.names,
            {(EP, "production"): both},
        )

    async def body(client, gateway, upstream):
        named = await chat(client)
        gateway.snapshot = lambda: two(upstream.url("ok"))
        silent = await chat(client)
        return named, silent, gateway.traffic.records

    named, silent, records = scenario(lambda up: two(up.url("named")), body)
    assert named.status_code == silent.status_code == 200
    assert records[0]["release"] == both[1] and "releases" in records[0]
    assert records[1]["release"] is None and records[1]["releases"] == list(both)
