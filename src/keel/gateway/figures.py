"""Live figures of the gateway for people: what the newest traffic-log events say.

Read through `keel.audit.list_events` (the traffic log is the record), over the last
`window` seconds and at most `limit` events, so a page stays cheap however busy the gateway
is. Also used by GET /api/v1/gateway/traffic and the web UI's gateway page.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from keel import audit

WINDOW = 300  # seconds
LIMIT = 5000  # newest events read at most


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def traffic_figures(
    session: Session, *, window: int = WINDOW, limit: int = LIMIT, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    since = (now - timedelta(seconds=window)).isoformat(timespec="microseconds")
    events = audit.list_events(
        session, log="traffic", since=since.replace("+00:00", "Z"), limit=limit
    )
    requests = [e.details for e in events if e.action == "gateway.request.handled"]
    anomalies = [
        e.details | {"time": e.time} for e in events if e.action == "gateway.anomaly.detected"
    ]
    decisions = Counter(r.get("decision", "?") for r in requests)
    latency = [r["latency_ms"] for r in requests if isinstance(r.get("latency_ms"), int | float)]
    by_route: Counter = Counter()
    ungoverned: Counter = Counter()  # served in production with no release, per route
    by_key: dict[str, Counter] = {}
    tokens = 0
    for r in requests:
        if r.get("endpoint"):
            by_route[(r["endpoint"], r.get("environment"))] += 1
            if r.get("ungoverned") is True:
                ungoverned[(r["endpoint"], r.get("environment"))] += 1
        if r.get("key"):
            counts = by_key.setdefault(r["key"], Counter())
            counts["requests"] += 1
            if str(r.get("decision", "")).startswith(("rate_limited", "throttled")):
                counts["limited"] += 1
            if r.get("status", 0) >= 400:
                counts["errors"] += 1
        tokens += (r.get("tokens") or {}).get("total") or 0
    span = 0.0
    if len(events) > 1:
        first = datetime.fromisoformat(events[0].time.replace("Z", "+00:00"))
        span = max((now - first).total_seconds(), 1.0)
    return {
        "window_s": window,
        "events": len(events),
        "requests": len(requests),
        "per_second": round(len(requests) / span, 2) if span else None,
        "decisions": dict(decisions.most_common()),
        "rate_limited": sum(
            n for d, n in decisions.items() if d.startswith(("rate_limited", "throttled"))
        ),
        "upstream_errors": decisions.get("upstream_error", 0) + decisions.get("circuit_open", 0),
        "latency_ms": {"p50": _pct(latency, 0.5), "p95": _pct(latency, 0.95)},
        "tokens": tokens,
        "ungoverned": sum(ungoverned.values()),
        "routes": [
            {"endpoint": e, "environment": env, "requests": n, "ungoverned": ungoverned[(e, env)]}
            for (e, env), n in by_route.most_common()
        ],
        "keys": [
            {"key": k, **c} for k, c in sorted(by_key.items(), key=lambda kv: -kv[1]["requests"])
        ],
        "anomalies": anomalies[-20:],
    }


# --- per minute, for charts ---------------------------------------------------------------

MINUTES = 30  # minutes charted
SERIES_LIMIT = 5000  # newest events read at most for the charts (a page stays cheap)
BLOCKED = frozenset({"blocked", "guard_error"})  # refused by a guard (or its failure)
REFUSED_PREFIXES = ("rate_limited", "throttled", "limits_unavailable")  # refused by a limit


def _minute(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(second=0, microsecond=0)


def minute_series(
    events: list[tuple[str, dict[str, Any]]], end: datetime, minutes: int = MINUTES
) -> list[dict[str, Any]]:
    """Per-minute figures of `gateway.request.handled` details given as (time, details), for
    the `minutes` whole minutes up to and including the one `end` falls in (pure): requests,
    latency p50/p95/p99 (ms, None without requests), guard blocks and limit refusals."""
    last = end.astimezone(UTC).replace(second=0, microsecond=0)
    starts = [last - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
    index = {start: i for i, start in enumerate(starts)}
    latency: list[list[float]] = [[] for _ in starts]
    counts = [Counter() for _ in starts]
    for time_text, details in events:
        slot = index.get(_minute(time_text))
        if slot is None:
            continue
        decision = str(details.get("decision", ""))
        counts[slot]["requests"] += 1
        if decision in BLOCKED:
            counts[slot]["blocked"] += 1
        if decision.startswith(REFUSED_PREFIXES):
            counts[slot]["refused"] += 1
        value = details.get("latency_ms")
        if isinstance(value, int | float):
            latency[slot].append(float(value))
    return [
        {
            "minute": start.isoformat().replace("+00:00", "Z"),
            "requests": counts[i]["requests"],
            "p50": _pct(latency[i], 0.5),
            "p95": _pct(latency[i], 0.95),
            "p99": _pct(latency[i], 0.99),
            "blocked": counts[i]["blocked"],
            "refused": counts[i]["refused"],
        }
        for i, start in enumerate(starts)
    ]


def traffic_series(
    session: Session,
    *,
    minutes: int = MINUTES,
    endpoint: str | None = None,
    limit: int = SERIES_LIMIT,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The traffic log's last `minutes` per minute (all endpoints, or one `api:` key), and
    per environment in total; at most the newest `limit` events are read, and `complete`
    says whether they reach back to the first minute."""
    now = now or datetime.now(UTC)
    start = now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    since = start.isoformat(timespec="microseconds").replace("+00:00", "Z")
    events = audit.list_events(session, log="traffic", subject=endpoint, since=since, limit=limit)
    requests = [(e.time, e.details) for e in events if e.action == "gateway.request.handled"]
    by_env: dict[str, Counter] = {}
    for _, details in requests:
        counts = by_env.setdefault(str(details.get("environment") or "—"), Counter())
        decision = str(details.get("decision", ""))
        counts["requests"] += 1
        counts["blocked"] += decision in BLOCKED
        counts["refused"] += decision.startswith(REFUSED_PREFIXES)
        counts["errors"] += int(details.get("status") or 0) >= 500
    return {
        "minutes": minutes,
        "since": since,
        "read": len(events),
        "complete": len(events) < limit,
        "series": minute_series(requests, now, minutes),
        "environments": {env: dict(c) for env, c in sorted(by_env.items())},
    }
