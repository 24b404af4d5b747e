"""Routes: which upstream serves an endpoint (an API node of the map) in an environment.

`set_route` and `remove_route` are the only writers of `gateway_routes`; each change is a
`gateway.route.*` event in the governance log, whose head is the gateway's config version.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from keel import audit
from keel.catalog.queries import get_entity
from keel.catalog.refs import key_of
from keel.clock import stamp
from keel.errors import NotFoundError, UsageError
from keel.gateway.tables import RouteRow
from keel.identity import Actor
from keel.pipeline.environments import check_environment

LIMITS_FAIL = ("closed", "open")  # when the limit store cannot be asked: refuse, or serve


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: str  # api:namespace/name
    environment: str
    upstream: str  # base URL, e.g. http://127.0.0.1:8410/v1
    model: str | None = None  # the name the upstream knows the model by; None: unchanged
    rpm: int | None = None  # the endpoint's own limits in this environment, all keys together
    tpm: int | None = None
    timeout: float | None = None
    capture: bool = False  # store redacted payloads in the traffic log
    updated_at: str = ""
    updated_by: str = ""
    credential_env: str | None = None  # env var on the gateway host with the upstream's key
    # the guard policy: None the default (keel.guard.DEFAULT_POLICY), False no guard, a
    # mapping in keel.guard.parse_policy's format (unset keys keep the default)
    guard: dict[str, Any] | bool | None = None
    # the limit store (Redis) down or hung: "closed" refuses with 503, "open" serves the
    # request with its limits unchecked and records it so
    limits_fail: str = "closed"
    # production without a release promoted there: False refuses (403 ungoverned_endpoint),
    # True serves and records each request as ungoverned
    allow_ungoverned: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def check_guard(guard: dict[str, Any] | bool | None) -> dict[str, Any] | bool | None:
    """The guard setting as stored: None (default), False (off) or a validated mapping."""
    if guard is None or guard is False:
        return guard
    if guard is True:
        return None
    if not isinstance(guard, dict):
        raise UsageError('a guard policy is a mapping such as {"output": {"pii": "block"}}')
    from keel.guard import parse_policy

    parse_policy(guard)  # raises InputError, one line per problem
    return guard


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def endpoint_key(session: Session, ref: str) -> str:
    """The key of an API entity of the map; raises NotFoundError for anything else."""
    try:
        key = key_of(ref, default_kind="api")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not key.startswith("api:"):
        raise UsageError(f"{ref!r} is not an API: an endpoint is an API node of the map")
    get_entity(session, key)  # NotFoundError when the map does not hold it
    return key


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
CREDENTIALS_REFUSED = (
    "an upstream URL may not carry credentials (user:password@): they would be stored in the "
    "routes table and in the governance log; put the upstream's key in an environment "
    "variable of the gateway's host and name it with --upstream-key-env (API: credential_env)"
)


def check_upstream(url: str) -> str:
    """The upstream base URL as stored, or UsageError: http or https only, a host (a DNS
    name or an IP address), a port in 1-65535, no credentials, query or fragment, and
    nothing but printable ASCII (no whitespace, control or look-alike characters)."""
    if not isinstance(url, str) or not url:
        raise UsageError("the upstream URL is empty; give one such as http://host:port/v1")
    if len(url) > 1000:
        raise UsageError("the upstream URL is longer than 1000 characters")
    odd = next((c for c in url if not "!" <= c <= "~" or c == "\\"), None)
    if odd is not None:
        name = unicodedata.name(odd, "").lower() or f"U+{ord(odd):04X}"
        raise UsageError(
            f"the upstream URL holds {name} ({odd!r}): only printable ASCII, with no "
            "whitespace or backslash, may be in it"
        )
    authority = url.partition("//")[2].partition("/")[0]
    if "@" in authority:  # before parsing: a refusal must not echo the credentials
        raise UsageError(CREDENTIALS_REFUSED)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. a bracketed host that is no IPv6 address
        raise UsageError(f"upstream {url[:200]!r} is not a valid URL: {exc}") from None
    if "@" in parts.netloc:
        raise UsageError(CREDENTIALS_REFUSED)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"upstream {url[:200]!r} is not an http(s) URL such as http://host:port/v1"
        )
    if "?" in url or "#" in url:
        raise UsageError(f"upstream {url[:200]!r} may not carry a query or fragment")
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"upstream {url[:200]!r}: {host!r} is not an IPv6 address") from None
    elif not host or len(host) > 253 or not _HOST.fullmatch(host):
        raise UsageError(f"upstream {url[:200]!r} has no valid host name")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise UsageError(f"upstream {url[:200]!r}: the port must be a number from 1 to 65535")
    if not _PATH.fullmatch(parts.path):
        raise UsageError(f"upstream {url[:200]!r} has characters a URL path may not hold")
    return url.rstrip("/")


def check_limits_fail(value: str | None) -> str:
    if value is None:
        return "closed"
    if value not in LIMITS_FAIL:
        raise UsageError(f"limits_fail {value!r} is not one of {', '.join(LIMITS_FAIL)}")
    return value


def _positive(name: str, value: int | float | None) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{name} must be positive")


def set_route(
    session: Session,
    actor: Actor,
    endpoint: str,
    environment: str,
    upstream: str,
    *,
    model: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    timeout: float | None = None,
    capture: bool = False,
    credential_env: str | None = None,
    guard: dict[str, Any] | bool | None = None,
    limits_fail: str | None = None,
    allow_ungoverned: bool = False,
) -> Route:
    """Create or replace the route of `endpoint` in `environment`. `credential_env` names
    the environment variable from which the gateway sends the upstream its API key; `guard`
    is the route's guard policy (None: the default, False: no guard); `limits_fail` what
    happens when the limit store is down ("closed", the default: refuse; "open": serve);
    `allow_ungoverned` lets a production route serve while its API's model has no release
    promoted to production (each such request is recorded as ungoverned)."""
    check_environment(environment)
    upstream = check_upstream(upstream)  # first: a refused URL is in no error but this one
    guard = check_guard(guard)
    limits_fail = check_limits_fail(limits_fail)
    if credential_env is not None and not _ENV_NAME.fullmatch(credential_env):
        raise UsageError(f"{credential_env!r} is not an environment variable name (A-Z, 0-9 and _)")
    key = endpoint_key(session, endpoint)
    for name, value in (("--rpm", rpm), ("--tpm", tpm), ("--timeout", timeout)):
        _positive(name, value)
    row = session.get(RouteRow, (key, environment))
    before = _route(row).as_dict() if row else None
    if row is None:
        row = RouteRow(endpoint=key, environment=environment)
        session.add(row)
    row.upstream, row.model, row.rpm, row.tpm, row.timeout = upstream, model, rpm, tpm, timeout
    row.capture = capture
    row.credential_env = credential_env
    row.guard = None if guard is None else json.dumps(guard, sort_keys=True)
    row.limits_fail = limits_fail
    row.allow_ungoverned = bool(allow_ungoverned)
    row.updated_at, row.updated_by = stamp(), actor.id
    session.flush()
    route = _route(row)
    details = {k: v for k, v in route.as_dict().items() if k not in ("updated_at", "updated_by")}
    details["previous_upstream"] = before["upstream"] if before else None
    audit.append(session, actor, [audit.Change("gateway.route.set", key, details)])
    return route


def remove_route(session: Session, actor: Actor, endpoint: str, environment: str) -> None:
    check_environment(environment)
    try:
        key = key_of(endpoint, default_kind="api")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    row = session.get(RouteRow, (key, environment))
    if row is None:
        raise NotFoundError(f"no route for {key} in {environment}")
    session.delete(row)
    session.flush()
    audit.append(
        session,
        actor,
        [audit.Change("gateway.route.removed", key, {"environment": environment})],
    )


def list_routes(session: Session) -> list[Route]:
    rows = session.scalars(select(RouteRow).order_by(RouteRow.endpoint, RouteRow.environment))
    return [_route(r) for r in rows]


def _route(row: RouteRow) -> Route:
    return Route(
        row.endpoint,
        row.environment,
        row.upstream,
        row.model,
        row.rpm,
        row.tpm,
        row.timeout,
        bool(row.capture),
        row.updated_at,
        row.updated_by,
        row.credential_env,
        json.loads(row.guard) if row.guard else None,
        row.limits_fail or "closed",
        bool(row.allow_ungoverned),
    )
