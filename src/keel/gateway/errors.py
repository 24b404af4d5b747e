"""What the gateway answers when it does not forward a response: OpenAI-style error bodies.

    GatewayError            status + {"error": {"message", "type", "param", "code"}}
      built by the helpers below for client mistakes (400, 401, 403, 404, 405, 413, 415, 429),
      for a limit store that cannot be asked (503), and by `translate()` for upstream
      failures (502, 503, 504)
    UpstreamStatus          an upstream answer the gateway will not pass on (3xx, 5xx),
                            raised by the forwarder and translated like any other failure

Failures of the upstream (refused, reset, timeout, garbage, a redirect, 5xx) become a
GatewayError in exactly one place, `translate()`, so a client never sees a Python exception,
a hung connection or an answer from wherever a redirect pointed; a test checks every aiohttp
failure class the proxy can meet.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson


class GatewayError(Exception):
    """An answer the gateway gives itself; `decision` is what the traffic log records."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        code: str,
        *,
        decision: str = "invalid",
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.decision = decision
        self.headers = headers or []

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": None,
                    "code": self.code,
                }
            }
        )


def invalid(message: str, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", code)


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(
        401,
        message,
        "authentication_error",
        "invalid_api_key",
        decision="unauthenticated",
        headers=[(b"www-authenticate", b'Bearer realm="keel-gateway"')],
    )


def forbidden(message: str, code: str = "forbidden") -> GatewayError:
    return GatewayError(403, message, "permission_error", code, decision="forbidden")


def ungoverned(message: str) -> GatewayError:
    """A production route whose API's model has no release promoted to production."""
    return GatewayError(
        403, message, "permission_error", "ungoverned_endpoint", decision="ungoverned"
    )


def not_found(message: str, code: str = "not_found") -> GatewayError:
    return GatewayError(404, message, "not_found_error", code, decision="not_found")


def method_not_allowed(allowed: str) -> GatewayError:
    return GatewayError(
        405,
        f"method not allowed here; use {allowed}",
        "invalid_request_error",
        "method_not_allowed",
        headers=[(b"allow", allowed.encode())],
    )


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, f"the request body exceeds {limit} bytes", "invalid_request_error", "body_too_large"
    )


def unsupported_media() -> GatewayError:
    return GatewayError(
        415,
        "send the request body as JSON (content-type: application/json)",
        "invalid_request_error",
        "unsupported_media_type",
    )


def rate_limited(scope: str, retry_after: int, message: str) -> GatewayError:
    return GatewayError(
        429,
        message,
        "rate_limit_error",
        "rate_limit_exceeded",
        decision=f"rate_limited:{scope}",
        headers=[(b"retry-after", str(retry_after).encode())],
    )


def throttled(retry_after: int) -> GatewayError:
    """A key throttled by anomaly detection (a burst against its own baseline)."""
    return GatewayError(
        429,
        "this key is throttled after an unusual burst of requests; retry later",
        "rate_limit_error",
        "key_throttled",
        decision="throttled",
        headers=[(b"retry-after", str(retry_after).encode())],
    )


def blocked(message: str, code: str = "blocked_by_guard") -> GatewayError:
    """For an input or output hook (a guard) that refuses a request."""
    return GatewayError(400, message, "invalid_request_error", code, decision="blocked")


def guard_violation(scanner: str, message: str) -> GatewayError:
    """The guard refused a request or an answer: 400 `guard_violation`, code the scanner."""
    return GatewayError(400, message, "guard_violation", scanner, decision="blocked")


def guard_failed(stage: str) -> GatewayError:
    """A scanner raised and the route's policy fails closed: refused, recorded as an error."""
    return GatewayError(
        500,
        f"the {stage} guard failed, so the request was refused (the route fails closed)",
        "guard_violation",
        "guard_error",
        decision="guard_error",
    )


def circuit_open(retry_after: int) -> GatewayError:
    return GatewayError(
        503,
        "the upstream is failing; the gateway stopped calling it for a moment",
        "api_error",
        "upstream_unavailable",
        decision="circuit_open",
        headers=[(b"retry-after", str(retry_after).encode())],
    )


def limits_unavailable(retry_after: int) -> GatewayError:
    """The limit store (Redis) cannot be asked and the route fails closed."""
    return GatewayError(
        503,
        "the rate-limit store is unavailable and this route refuses unchecked requests "
        "(it fails closed); retry later",
        "api_error",
        "limits_unavailable",
        decision="limits_unavailable",
        headers=[(b"retry-after", str(retry_after).encode())],
    )


class UpstreamStatus(Exception):
    """An upstream answered with a status the gateway does not pass on: a redirect (never
    followed: it could point anywhere, e.g. a cloud metadata address) or a 5xx."""

    def __init__(self, status: int, location: str | None = None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.location = location


def _upstream(status: int, message: str, code: str) -> GatewayError:
    return GatewayError(status, message, "api_error", code, decision="upstream_error")


def translate(exc: BaseException) -> GatewayError:
    """The one place where a failure to talk to the upstream becomes an answer."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, UpstreamStatus):
        if 300 <= exc.status < 400:
            return _upstream(
                502,
                f"the upstream answered with a redirect (HTTP {exc.status}); the gateway never "
                "follows redirects: point the route at the final URL",
                "upstream_redirect",
            )
        return _upstream(
            502, f"the upstream failed with HTTP {exc.status}", f"upstream_http_{exc.status}"
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return _upstream(504, "the upstream did not answer in time", "upstream_timeout")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return _upstream(502, "the upstream refused the connection", "upstream_unreachable")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return _upstream(502, "the upstream closed the connection", "upstream_disconnected")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return _upstream(502, "the upstream sent a malformed response", "upstream_bad_response")
    if isinstance(exc, orjson.JSONDecodeError | ValueError | UnicodeDecodeError):
        return _upstream(502, "the upstream sent a response that is not JSON", "upstream_garbage")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return _upstream(502, "the upstream failed", "upstream_error")
    return _upstream(502, "the gateway failed to relay the upstream's answer", "gateway_error")


def missing_credential(name: str) -> GatewayError:
    """The route sends the upstream a key from an environment variable this gateway lacks."""
    return _upstream(
        502,
        f"the gateway has no upstream credential: set {name} where the gateway runs",
        "upstream_credential_missing",
    )
