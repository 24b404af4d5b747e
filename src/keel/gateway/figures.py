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
    by_key: dict[str, Counter] = {}
    tokens = 0
    for r in requests:
        if r.get("endpoint"):
            by_route[(r["endpoint"], r.get("environment"))] += 1
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
        "routes": [
            {"endpoint": e, "environment": env, "requests": n}
            for (e, env), n in by_route.most_common()
        ],
        "keys": [
            {"key": k, **c} for k, c in sorted(by_key.items(), key=lambda kv: -kv[1]["requests"])
        ],
        "anomalies": anomalies[-20:],
    }
