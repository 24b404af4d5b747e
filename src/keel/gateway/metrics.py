"""Prometheus metrics of one gateway process, served on the admin port (never the traffic
port): requests by endpoint, environment, operation, status and decision; latency
histograms (whole request, and the upstream's part); rate-limit rejections by scope;
upstream errors by kind; the config version; traffic-log writes.

Children of labelled metrics are cached, so a request costs a few dictionary lookups.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "keel_gateway_requests",
            "Requests answered, by endpoint, environment, operation, status and decision.",
            ["endpoint", "environment", "operation", "status", "decision"],
            registry=r,
        )
        self.latency = Histogram(
            "keel_gateway_request_seconds",
            "Time from the request's arrival to the last byte of its answer.",
            ["operation"],
            buckets=BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "keel_gateway_upstream_seconds",
            "Time spent waiting for the upstream (headers and body).",
            ["operation"],
            buckets=BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "keel_gateway_rate_limited",
            "Requests refused with 429, by the limit that refused them.",
            ["scope"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "keel_gateway_upstream_errors",
            "Upstream failures, by kind (the error code sent to the client).",
            ["code"],
            registry=r,
        )
        self.limiter_errors = Counter(
            "keel_gateway_limiter_errors",
            "Requests served without limits because the limit store (Redis) failed.",
            registry=r,
        )
        self.anomalies = Counter(
            "keel_gateway_anomalies",
            "Per-key anomalies found (burst, error_spike).",
            ["kind"],
            registry=r,
        )
        self.tokens = Counter(
            "keel_gateway_tokens",
            "Tokens used, as the upstream reported them (or as counted when it did not).",
            ["endpoint", "environment"],
            registry=r,
        )
        self.config_version = Gauge(
            "keel_gateway_config_version",
            "The governance log head the config was read at.",
            registry=r,
        )
        self.config_reloads = Counter(
            "keel_gateway_config_reloads", "Config snapshots loaded.", registry=r
        )
        self.traffic_events = Counter(
            "keel_gateway_traffic_events",
            "Traffic-log events, by outcome (written, dropped).",
            ["outcome"],
            registry=r,
        )
        self._children: dict[tuple, object] = {}

    def _child(self, metric, labels: tuple):
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(
        self,
        endpoint: str,
        environment: str,
        operation: str,
        status: int,
        decision: str,
        seconds: float,
        upstream_seconds: float | None,
        tokens: int,
    ) -> None:
        self._child(self.requests, (endpoint, environment, operation, str(status), decision)).inc()
        self._child(self.latency, (operation,)).observe(seconds)
        if upstream_seconds is not None:
            self._child(self.upstream_latency, (operation,)).observe(upstream_seconds)
        if tokens:
            self._child(self.tokens, (endpoint, environment)).inc(tokens)

    def limited(self, scope: str) -> None:
        self._child(self.rate_limited, (scope,)).inc()

    def anomaly(self, kind: str) -> None:
        self._child(self.anomalies, (kind,)).inc()

    def upstream_error(self, code: str) -> None:
        self._child(self.upstream_errors, (code,)).inc()

    def traffic(self, written: int, dropped: int) -> None:
        if written:
            self._child(self.traffic_events, ("written",)).inc(written)
        if dropped:
            self._child(self.traffic_events, ("dropped",)).inc(dropped)

    def render(self) -> bytes:
        return generate_latest(self.registry)
