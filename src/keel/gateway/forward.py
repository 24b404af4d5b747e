"""Forwarding: a request to its upstream and the answer back to the client.

    Forwarder(breaker, hooks, metrics, timeout)
      start() / stop()          the one pooled aiohttp client (HTTP/1.1 keep-alive)
      await forwarder(call, send)
        circuit breaker -> POST to the upstream (never following a redirect, within the
        route's time-out) -> a complete answer through the output hooks, or an SSE stream
        relayed as it arrives -> which of the route's releases answered

A redirect is never followed (as Envoy, LiteLLM and httpx do by default): it could point
anywhere, a cloud metadata address or an internal service, and its answer would reach the
client. A 3xx, like a 5xx, is raised as `errors.UpstreamStatus`; every failure becomes an
answer in `errors.translate` and nowhere else.
"""

from __future__ import annotations

import os
import time
from typing import Any

import aiohttp
import orjson

from keel.gateway import errors
from keel.gateway.breaker import Breaker
from keel.gateway.hooks import Call, Hooks
from keel.gateway.metrics import Metrics

SUFFIX = {"chat": "/chat/completions", "embeddings": "/embeddings"}
JSON = b"application/json"
SSE = b"text/event-stream"
TIMEOUT = 30.0
CONNECT = 10.0  # at most, for the connection; the route's time-out bounds each read
TAIL = 4096  # bytes of a stream kept to find its final usage event
RELEASE_HEADER = "x-keel-release"  # an upstream serving several releases may name its own


class Forwarder:
    def __init__(self, *, breaker: Breaker, hooks: Hooks, metrics: Metrics, timeout: float):
        self.breaker = breaker
        self.hooks = hooks
        self.metrics = metrics
        self.timeout = timeout
        self.client: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
        self.client = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        )

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def __call__(self, call: Call, send) -> None:
        """Call the upstream and answer the client; raises a GatewayError (nothing sent)
        when the upstream cannot give an answer worth passing on."""
        route = call.route
        assert route is not None and self.client is not None
        wait = self.breaker.check(route.upstream)
        if wait is not None:
            raise errors.circuit_open(wait)
        if call.operation == "predict":
            url = f"{route.upstream}/predict/{route.model or call.endpoint.partition('/')[2]}"
        else:
            url = route.upstream + SUFFIX[call.operation]
        body = call.raw if call.raw is not None else orjson.dumps(call.body)
        headers = {"content-type": "application/json", "x-request-id": call.id}
        if route.credential_env:
            secret = os.environ.get(route.credential_env)
            if not secret:
                raise errors.missing_credential(route.credential_env)
            headers["authorization"] = f"Bearer {secret}"
        began = time.perf_counter()
        try:
            async with self.client.post(
                url,
                data=body,
                headers=headers,
                timeout=self._timeout(route.timeout or self.timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                named = response.headers.get(RELEASE_HEADER)
                if named is not None:
                    call.release = answered_release(call.releases, named) or call.release
                if status >= 500 or 300 <= status < 400:
                    await response.read()
                    raise errors.UpstreamStatus(status)
                if call.stream and status == 200 and response.content_type == "text/event-stream":
                    self.breaker.success(route.upstream)
                    await self._relay(call, response, send)
                    return
                data = await response.read()
                kind = response.headers.get("content-type", "application/json")
            parsed = orjson.loads(data) if status < 300 else None
            if status < 300 and not isinstance(parsed, dict):
                raise ValueError("not a JSON object")
        except Exception as exc:
            call.upstream_seconds = time.perf_counter() - began
            self.breaker.failure(route.upstream)
            raise errors.translate(exc) from None
        call.upstream_seconds = time.perf_counter() - began
        self.breaker.success(route.upstream)
        if parsed is None:  # the upstream refused the request (4xx): its own answer, unchanged
            call.status, call.decision = status, "upstream_refused"
            await answer(send, status, data, call.id, kind.encode())
            return
        usage = parsed.get("usage")
        if isinstance(usage, dict):
            call.usage = usage
        if call.release is None and call.releases:
            call.release = answered_release(call.releases, None, parsed.get("model"))
        for hook in self.hooks.output:
            data = await hook.response(call, data)
        if route.capture:
            call.answer = orjson.loads(data)  # as the client gets it, after the hooks
        call.status = status
        await answer(send, status, data, call.id)

    async def _relay(self, call: Call, response: aiohttp.ClientResponse, send) -> None:
        """Pass an SSE stream through as it arrives; a failure midway ends it with an error
        event (the status line is already sent)."""
        filters = [f for h in self.hooks.output if (f := h.stream(call)) is not None]
        call.status = 200
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", SSE),
                    (b"cache-control", b"no-cache"),
                    (b"x-request-id", call.id.encode()),
                ],
            }
        )
        tail = b""
        try:
            async for chunk in response.content.iter_any():
                tail = (tail + chunk)[-TAIL:]
                for f in filters:
                    chunk = f.feed(chunk)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last = b"".join(f.end() for f in filters)
        except Exception as exc:
            err = errors.translate(exc)
            call.decision = err.decision
            self.metrics.upstream_error(err.code)
            last = b"data: " + err.body() + b"\n\n"
        call.upstream_seconds = time.perf_counter() - call.started
        call.usage = stream_usage(tail)
        await send({"type": "http.response.body", "body": last, "more_body": False})

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(seconds)
        if found is None:
            found = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=min(seconds, CONNECT), sock_read=seconds
            )
        return found


def answered_release(serving: tuple[str, ...], named: str | None, model: Any = None) -> str | None:
    """The release that answered: the only one serving the route; else the one the upstream
    names (its `x-keel-release` header, or the answer's `model` as the release's model name
    or `name@version`); None when several serve and the answer does not tell which."""
    if len(serving) == 1:
        return serving[0]
    if named in serving:
        return named
    if not isinstance(model, str) or not model:
        return None
    found = [
        r for r in serving if model in (r, r.partition("/")[2], r.partition("/")[2].split("@")[0])
    ]
    return found[0] if len(found) == 1 else None


def stream_usage(tail: bytes) -> dict[str, Any] | None:
    """The `usage` of the last SSE event that carries one, if the stream had any."""
    at = tail.rfind(b'"usage"')
    if at < 0:
        return None
    start = tail.rfind(b"data:", 0, at)
    end = tail.find(b"\n", at)
    if start < 0:
        return None
    try:
        event = orjson.loads(tail[start + 5 : end if end >= 0 else None])
    except orjson.JSONDecodeError:
        return None
    usage = event.get("usage") if isinstance(event, dict) else None
    return usage if isinstance(usage, dict) else None


async def answer(
    send,
    status: int,
    body: bytes,
    request_id: str,
    kind: bytes = JSON,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
