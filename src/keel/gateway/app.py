"""The gateway's ASGI application: the hot path of every request, in one visible order.

    dispatch (path, method) -> authenticate (key digest -> grant, expiry, operation)
    -> read and parse the JSON body (size, content type) -> resolve the endpoint and the
    route for the key's environment -> rate limits -> input hooks (guards)
    -> forward to the upstream (circuit breaker; failures translated in `errors.translate`)
    -> output hooks -> answer -> settle tokens, record metrics and the traffic log

Raw ASGI on purpose: no framework, no per-request models, orjson, one pooled aiohttp client
(HTTP/1.1 keep-alive): measured at a fraction of a millisecond per request (docs/gateway.md).
Admin operations (keys, routes) are never served here: they belong to the control plane.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from keel.gateway import errors, requests, tokens
from keel.gateway.anomaly import Detector
from keel.gateway.breaker import Breaker
from keel.gateway.config import Snapshot
from keel.gateway.errors import GatewayError
from keel.gateway.hooks import Call, Hooks
from keel.gateway.metrics import Metrics
from keel.gateway.openapi import document
from keel.gateway.ratelimit import Check, Limiter
from keel.gateway.traffic import TrafficLog

logger = logging.getLogger("keel.gateway")

OPERATIONS = {
    "/v1/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/v1/models": "models",
}
PREDICT = "/v1/predict/"
SUFFIX = {"chat": "/chat/completions", "embeddings": "/embeddings"}
JSON = b"application/json"
SSE = b"text/event-stream"
MAX_BODY = 1 << 20
TIMEOUT = 30.0
TAIL = 4096  # bytes of a stream kept to find its final usage event


class Gateway:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        *,
        limiter: Limiter | None = None,
        traffic: TrafficLog | None = None,
        metrics: Metrics | None = None,
        breaker: Breaker | None = None,
        hooks: Hooks | None = None,
        detector: Detector | None = None,
        max_body: int = MAX_BODY,
        timeout: float = TIMEOUT,
        startup: Callable[[], Awaitable[None]] | None = None,
        shutdown: Callable[[], Awaitable[None]] | None = None,
    ):
        self.snapshot = snapshot
        self.limiter = limiter or Limiter()
        self.traffic = traffic
        self.metrics = metrics or Metrics()
        self.breaker = breaker or Breaker()
        self.hooks = hooks or Hooks()
        self.detector = detector or Detector(mode="off")
        self.max_body = max_body
        self.timeout = timeout
        self._startup, self._shutdown = startup, shutdown
        self.client: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4) + "-"
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._openapi = orjson.dumps(document())
        self._warned = 0.0

    # --- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
        self.client = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        )
        if self._startup is not None:
            await self._startup()

    async def stop(self) -> None:
        if self._shutdown is not None:
            await self._shutdown()
        if self.client is not None:
            await self.client.close()
        await self.limiter.close()

    # --- the request path -------------------------------------------------------------

    async def handle(self, scope: dict, receive, send) -> None:
        call = Call(self._prefix + format(next(self._ids), "x"), "", time.perf_counter())
        responded = False
        try:
            call.operation, endpoint = _dispatch(scope)
            if call.operation == "openapi":
                await _answer(send, 200, self._openapi, call.id)
                call.status, call.decision, responded = 200, "meta", True
                return
            snapshot = self.snapshot()
            headers = _headers(scope)
            grant = _authenticate(snapshot, headers.get(b"authorization"), call.operation)
            call.grant = grant
            if self.detector.mode == "throttle":
                wait = self.detector.admit(grant.id)
                if wait is not None:
                    raise errors.throttled(wait)
            if call.operation == "models":
                await _answer(send, 200, _models(snapshot, grant), call.id)
                call.status, responded = 200, True
                return
            call.body, call.raw = await _read_json(headers, receive, self.max_body)
            call.endpoint = _endpoint(snapshot, grant, call.body, endpoint)
            route = snapshot.routes.get((call.endpoint, grant.environment))
            if route is None:
                raise errors.not_found(
                    f"{snapshot.names.get(call.endpoint, call.endpoint)} has no route "
                    f"in {grant.environment}",
                    "route_not_found",
                )
            call.route = route
            requests.check(call.operation, call.body)  # before limits, guards or the upstream
            call.release = snapshot.releases.get((call.endpoint, grant.environment))
            call.stream = call.body.get("stream") is True
            if route.model is not None and call.operation != "predict":
                call.body["model"] = route.model
                call.raw = None
            await self._limit(call)
            for hook in self.hooks.input:
                await hook(call)
            responded = await self._forward(call, send)
        except GatewayError as err:
            call.status, call.decision = err.status, err.decision
            if err.decision == "upstream_error":
                self.metrics.upstream_error(err.code)
            if not responded:
                await _error(send, err, call.id)
                responded = True
        except Exception:  # a bug must cost one request a 500, never the process
            logger.exception("gateway: request %s failed", call.id)
            call.status, call.decision = 500, "gateway_error"
            if not responded:
                await _error(
                    send,
                    GatewayError(500, "the gateway failed", "api_error", "internal_error"),
                    call.id,
                )
        finally:
            try:
                await self._settle(call)
                self._record(call)
            except Exception:  # after the answer: a bug here must not fail the request
                logger.exception("gateway: recording request %s failed", call.id)

    async def _limit(self, call: Call) -> None:
        grant, route = call.grant, call.route
        assert grant is not None and route is not None
        checks: list[Check] = []
        if grant.rpm:
            checks.append(Check("key-rpm", grant.id, grant.rpm, 1))
        if route.rpm:
            checks.append(
                Check("endpoint-rpm", f"{route.endpoint}|{route.environment}", route.rpm, 1)
            )
        if grant.tpm or route.tpm:
            call.reserved = tokens.reservation(call.operation, call.body or {})
            if call.reserved:
                if grant.tpm:
                    checks.append(Check("key-tpm", grant.id, grant.tpm, call.reserved))
                if route.tpm:
                    ident = f"{route.endpoint}|{route.environment}"
                    checks.append(Check("endpoint-tpm", ident, route.tpm, call.reserved))
        if not checks:
            return
        try:
            refused = await self.limiter.acquire(checks)
        except Exception as exc:  # the shared store is down: fail open, loudly
            self.metrics.limiter_errors.inc()
            call.findings.append({"type": "limits_unavailable"})
            now = time.monotonic()
            if now - self._warned > 10:
                self._warned = now
                logger.warning("gateway: rate limits unavailable, serving unlimited: %s", exc)
            return
        if refused is None:
            call.limits = [c for c in checks if c.scope.endswith("tpm")]
            return
        self.metrics.limited(refused.scope)
        if refused.cost > refused.limit:
            raise errors.rate_limited(
                refused.scope,
                60,
                f"this request needs {refused.cost} tokens, more than the {refused.limit} "
                f"per minute allowed ({refused.scope}); lower max_tokens",
            )
        wait = await self.limiter.retry_after(refused)
        unit = "tokens" if refused.scope.endswith("tpm") else "requests"
        raise errors.rate_limited(
            refused.scope,
            wait,
            f"rate limit reached: {refused.limit} {unit} per minute ({refused.scope}); "
            f"retry after {wait} s",
        )

    async def _forward(self, call: Call, send) -> bool:
        """Call the upstream and answer the client; returns True once the answer started."""
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
        timeout = self._timeout(route.timeout or self.timeout)
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
                timeout=timeout,
            ) as response:
                status = response.status
                if status >= 500:
                    await response.read()
                    raise errors.upstream_status(status)
                if call.stream and status == 200 and response.content_type == "text/event-stream":
                    self.breaker.success(route.upstream)
                    await self._relay(call, response, send)
                    return True
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
        if parsed is not None:
            usage = parsed.get("usage")
            if isinstance(usage, dict):
                call.usage = usage
            for hook in self.hooks.output:
                data = await hook.response(call, data)
            if route.capture:
                call.answer = orjson.loads(data)  # as the client gets it, after the hooks
            call.status = status
            await _answer(send, status, data, call.id)
        else:  # the upstream refused the request (4xx): its own answer, unchanged
            call.status, call.decision = status, "upstream_refused"
            await _answer(send, status, data, call.id, kind.encode())
        return True

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
        finally:
            call.upstream_seconds = time.perf_counter() - call.started
        await send({"type": "http.response.body", "body": last, "more_body": False})
        call.usage = _stream_usage(tail)

    async def _settle(self, call: Call) -> None:
        """Replace the token reservation with what the upstream says it used."""
        if not call.limits:
            return
        used = _total(call.usage)
        if used is None:
            if call.status < 400:
                return  # no usage reported: the reservation stands
            used = 0  # refused or failed: nothing was generated
        try:
            for check in call.limits:
                await self.limiter.adjust(check, used - check.cost)
        except Exception as exc:
            logger.warning("gateway: cannot settle tokens of %s: %s", call.id, exc)

    def _record(self, call: Call) -> None:
        seconds = time.perf_counter() - call.started
        grant = call.grant
        environment = grant.environment if grant else ""
        used = _total(call.usage)
        self.metrics.request(
            call.endpoint or "",
            environment,
            call.operation or "unknown",
            call.status,
            call.decision,
            seconds,
            call.upstream_seconds,
            used or 0,
        )
        anomalies = (
            self.detector.observe(grant.id, call.status)
            if grant is not None and self.detector.enabled and call.decision != "throttled"
            else ()
        )
        if self.traffic is None or call.decision == "meta":
            return
        for anomaly in anomalies:
            self.metrics.anomaly(anomaly.kind)
            self.traffic.record(
                {
                    "kind": anomaly.kind,
                    "key": anomaly.key,
                    "consumer": grant.consumer if grant else None,
                    "mode": self.detector.mode,
                    **anomaly.figures,
                },
                action="gateway.anomaly.detected",
                subject=f"consumer:{grant.consumer}" if grant else "gateway",
            )
        details: dict[str, Any] = {
            "request": call.id,
            "operation": call.operation or None,
            "key": grant.id if grant else None,
            "consumer": grant.consumer if grant else None,
            "endpoint": call.endpoint,
            "environment": environment or None,
            "release": call.release,
            "status": call.status,
            "decision": call.decision,
            "latency_ms": round(seconds * 1000, 3),
        }
        if call.upstream_seconds is not None:
            details["upstream_ms"] = round(call.upstream_seconds * 1000, 3)
        if call.stream:
            details["stream"] = True
        if call.reserved or call.usage:
            usage = call.usage or {}
            details["tokens"] = {
                "reserved": call.reserved,
                "prompt": usage.get("prompt_tokens"),
                "completion": usage.get("completion_tokens"),
                "total": used,
            }
        if call.findings:
            details["findings"] = call.findings
        payload = None
        if call.route is not None and call.route.capture and call.body is not None:
            answer = "(stream, not captured)" if call.stream else call.answer
            payload = {"request": call.body, "response": answer}
        self.traffic.record(details, payload=payload)

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(seconds)
        if found is None:
            found = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=min(seconds, 10.0), sock_read=seconds
            )
        return found


# --- steps, as plain functions ----------------------------------------------------------


def _dispatch(scope: dict) -> tuple[str, str | None]:
    path: str = scope["path"]
    method: str = scope["method"]
    operation = OPERATIONS.get(path)
    if operation is not None:
        want = "GET" if operation == "models" else "POST"
        if method != want:
            raise errors.method_not_allowed(want)
        return operation, None
    if path.startswith(PREDICT):
        if method != "POST":
            raise errors.method_not_allowed("POST")
        name = path[len(PREDICT) :]
        if not name or "/" in name.strip("/"):
            raise errors.not_found(f"no such path {path[:200]!r}", "unknown_url")
        return "predict", name.strip("/")
    if path == "/openapi.json":
        if method != "GET":
            raise errors.method_not_allowed("GET")
        return "openapi", None
    raise errors.not_found(f"no such path {path[:200]!r}", "unknown_url")


def _headers(scope: dict) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in (b"authorization", b"content-type", b"content-length"):
            found[name] = value
    return found


def _authenticate(snapshot: Snapshot, header: bytes | None, operation: str):
    if not header:
        raise errors.unauthenticated("missing API key (Authorization: Bearer <key>)")
    scheme, _, secret = header.partition(b" ")
    if scheme.lower() != b"bearer" or not secret or len(secret) > 200:
        raise errors.unauthenticated("the Authorization header must be: Bearer <key>")
    grant = snapshot.keys.get(_digest(secret.strip()))
    if grant is None:
        raise errors.unauthenticated("unknown or revoked API key")
    if grant.expires is not None and grant.expires <= time.time():
        raise errors.unauthenticated("this API key has expired")
    if operation not in grant.operations:
        raise errors.forbidden(f"this key may not use {operation}", "operation_not_allowed")
    return grant


def _digest(secret: bytes) -> str:
    from hashlib import sha256

    return "sha256:" + sha256(secret).hexdigest()


async def _read_json(
    headers: dict[bytes, bytes], receive, limit: int
) -> tuple[dict[str, Any], bytes]:
    kind = headers.get(b"content-type", b"").lower()
    if not kind.startswith(JSON):
        raise errors.unsupported_media()
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.too_large(limit)
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise errors.invalid("the client went away", "client_disconnected")
        body += message.get("body", b"")
        if len(body) > limit:
            raise errors.too_large(limit)
        more = message.get("more_body", False)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid("the request body is not valid JSON", "invalid_json") from None
    if not isinstance(parsed, dict):
        raise errors.invalid("the request body must be a JSON object", "invalid_json")
    return parsed, body


def _endpoint(snapshot: Snapshot, grant, body: dict[str, Any], named: str | None) -> str:
    """The endpoint a request names (path for predict, else `model`), or the key's only
    endpoint when it names none; 404 for one the key may not reach, known or not."""
    model = named if named is not None else body.get("model")
    if model is None or model == "":
        only = grant.only_endpoint()
        if only is None:
            raise errors.invalid(
                "name the endpoint in `model`: this key may call several", "model_required"
            )
        return only
    if not isinstance(model, str):
        raise errors.invalid("`model` must be a string", "invalid_model")
    endpoint = snapshot.resolve(model)
    if endpoint is None or endpoint not in grant.endpoints:
        raise errors.not_found(
            f"the model {model[:100]!r} does not exist or this key may not call it",
            "model_not_found",
        )
    return endpoint


def _models(snapshot: Snapshot, grant) -> bytes:
    data = [
        {
            "id": snapshot.names.get(endpoint, endpoint),
            "object": "model",
            "created": 0,
            "owned_by": "keel",
            "endpoint": endpoint,
            "environment": grant.environment,
            "release": snapshot.releases.get((endpoint, grant.environment)),
        }
        for endpoint in sorted(grant.endpoints)
        if (endpoint, grant.environment) in snapshot.routes
    ]
    return orjson.dumps({"object": "list", "data": data})


def _stream_usage(tail: bytes) -> dict[str, Any] | None:
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


def _total(usage: dict[str, Any] | None) -> int | None:
    if not usage:
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    ints = [p for p in parts if isinstance(p, int)]
    return sum(ints) if ints else None


async def _answer(send, status: int, body: bytes, request_id: str, kind: bytes = JSON) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _error(send, err: GatewayError, request_id: str) -> None:
    body = err.body()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [
                (b"content-type", JSON),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                *err.headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
