"""The gateway's ASGI application: the hot path of every request, in one visible order.

    dispatch (path, method) -> authenticate (key digest -> grant, expiry, operation)
    -> read and parse the JSON body (size, content type) -> resolve the endpoint and the
    route for the key's environment -> rate limits -> input hooks (guards)
    -> forward to the upstream (`forward.Forwarder`: breaker, no redirects, time-outs;
    failures translated in `errors.translate`) -> output hooks
    -> the traffic record (journaled) -> the answer's last byte -> settle tokens

Raw ASGI on purpose: no framework, no per-request models, orjson, one pooled aiohttp client
(HTTP/1.1 keep-alive): measured at a fraction of a millisecond per request (docs/gateway.md).
Admin operations (keys, routes) are never served here: they belong to the control plane.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from keel.gateway import errors, requests, tokens
from keel.gateway.anomaly import Detector
from keel.gateway.breaker import Breaker
from keel.gateway.config import Snapshot
from keel.gateway.errors import GatewayError
from keel.gateway.forward import TIMEOUT, Forwarder, answer
from keel.gateway.hooks import Call, Hooks
from keel.gateway.keys import digest
from keel.gateway.metrics import Metrics
from keel.gateway.openapi import document
from keel.gateway.ratelimit import Check, Limiter, Unavailable
from keel.gateway.traffic import anomaly_event, request_event, request_payload

logger = logging.getLogger("keel.gateway")

OPERATIONS = {
    "/v1/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/v1/models": "models",
}
PREDICT = "/v1/predict/"
JSON = b"application/json"
MAX_BODY = 1 << 20
__all__ = ["MAX_BODY", "TIMEOUT", "Gateway"]


class Recorder(Protocol):
    """Where records go: a `keel.gateway.journal.Journal` or a `traffic.TrafficLog`."""

    def record(
        self,
        details: dict[str, Any],
        *,
        action: str = ...,
        subject: str | None = ...,
        payload: Any = ...,
    ) -> None: ...


class Gateway:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        *,
        limiter: Limiter | None = None,
        traffic: Recorder | None = None,
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
        self.forward = Forwarder(
            breaker=self.breaker, hooks=self.hooks, metrics=self.metrics, timeout=timeout
        )
        self._startup, self._shutdown = startup, shutdown
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4) + "-"
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
        await self.forward.start()
        try:
            await self.limiter.start()
        except Exception as exc:
            logger.warning("gateway: the rate-limit store is unavailable at start: %s", exc)
        if self._startup is not None:
            await self._startup()

    async def stop(self) -> None:
        if self._shutdown is not None:
            await self._shutdown()
        await self.forward.stop()
        await self.limiter.close()

    # --- the request path -------------------------------------------------------------

    async def handle(self, scope: dict, receive, client_send) -> None:
        call = Call(self._prefix + format(next(self._ids), "x"), "", time.perf_counter())
        responded = False

        async def send(message: dict) -> None:
            """The answer's last byte goes only after the request's record is journaled."""
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self._recorded(call)
            await client_send(message)

        try:
            call.operation, endpoint = _dispatch(scope)
            if call.operation == "openapi":
                call.status, call.decision = 200, "meta"
                await answer(send, 200, self._openapi, call.id)
                responded = True
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
                call.status = 200
                await answer(send, 200, _models(snapshot, grant), call.id)
                responded = True
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
            call.releases = snapshot.releases.get((call.endpoint, grant.environment), ())
            call.release = _only(call.releases)  # several: the answer may tell which
            if not call.releases:
                reason = snapshot.ungoverned.get((call.endpoint, grant.environment))
                if reason is not None:
                    if not route.allow_ungoverned:
                        raise errors.ungoverned(reason)
                    call.ungoverned = True
            call.stream = call.body.get("stream") is True
            if route.model is not None and call.operation != "predict":
                call.body["model"] = route.model
                call.raw = None
            await self._limit(call)
            for hook in self.hooks.input:
                await hook(call)
            await self.forward(call, send)
            responded = True
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
            if not call.recorded:  # no answer went out (the client left): still recorded
                self._recorded(call)
            try:
                await self._settle(call)
            except Exception:  # after the answer: a bug here must not fail the request
                logger.exception("gateway: settling request %s failed", call.id)

    def _recorded(self, call: Call) -> None:
        call.recorded = True
        try:
            self._record(call)
        except Exception:  # a bug here must cost the record, never the answer
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
        except Unavailable as exc:  # the shared store is down or hung: the route decides
            self.metrics.limiter_errors.inc()
            now = time.monotonic()
            if now - self._warned > 10:
                self._warned = now
                logger.warning("gateway: rate limits unavailable (%s)", exc)
            if route.limits_fail == "open":
                call.limit = "unchecked"
                return
            raise errors.limits_unavailable(exc.retry_after) from None
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
            adjustments = [(check, used - check.cost) for check in call.limits]
            await self.limiter.settle(adjustments, later=True)
        except Unavailable as exc:
            self.metrics.limiter_errors.inc()
            logger.debug("gateway: cannot settle tokens of %s: %s", call.id, exc)

    def _record(self, call: Call) -> None:
        seconds = time.perf_counter() - call.started
        grant = call.grant
        used = _total(call.usage)
        self.metrics.request(
            call.endpoint or "",
            grant.environment if grant else "",
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
                anomaly_event(anomaly, grant.consumer if grant else None, self.detector.mode),
                action="gateway.anomaly.detected",
                subject=f"consumer:{grant.consumer}" if grant else "gateway",
            )
        event = request_event(call, seconds, used)
        self.traffic.record(event.details(), payload=request_payload(call))


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
    grant = snapshot.keys.get(digest(secret.strip()))
    if grant is None:
        raise errors.unauthenticated("unknown or revoked API key")
    if grant.expires is not None and grant.expires <= time.time():
        raise errors.unauthenticated("this API key has expired")
    if operation not in grant.operations:
        raise errors.forbidden(f"this key may not use {operation}", "operation_not_allowed")
    return grant


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
            "release": _only(snapshot.releases.get((endpoint, grant.environment), ())),
            "releases": list(snapshot.releases.get((endpoint, grant.environment), ())),
            # production with no release: refused (403 ungoverned_endpoint) unless the route
            # allows it, and then served flagged
            "ungoverned": _ungoverned_mode(snapshot, endpoint, grant.environment),
        }
        for endpoint in sorted(grant.endpoints)
        if (endpoint, grant.environment) in snapshot.routes
    ]
    return orjson.dumps({"object": "list", "data": data})


def _ungoverned_mode(snapshot: Snapshot, endpoint: str, environment: str) -> str | None:
    if (endpoint, environment) not in snapshot.ungoverned:
        return None
    return "served" if snapshot.routes[(endpoint, environment)].allow_ungoverned else "refused"


def _only(releases: tuple[str, ...]) -> str | None:
    return releases[0] if len(releases) == 1 else None


def _total(usage: dict[str, Any] | None) -> int | None:
    if not usage:
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    ints = [p for p in parts if isinstance(p, int)]
    return sum(ints) if ints else None


async def _error(send, err: GatewayError, request_id: str) -> None:
    await answer(send, err.status, err.body(), request_id, headers=err.headers)
