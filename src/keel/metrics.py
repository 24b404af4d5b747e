"""The control plane's Prometheus figures, as the packages that own them declare them.

A package declares a collector in its `collectors` module; `keel.api.metrics.COLLECTOR_MODULES`
is the one list of those modules, and `/metrics` runs every collector, each in a read
transaction of its own, on every scrape:

    from prometheus_client.core import GaugeMetricFamily
    from keel.metrics import collector

    @collector("incidents")
    def open_incidents(session):
        family = GaugeMetricFamily("keel_incidents_open", "Open incidents.", labels=["severity"])
        for severity, count in ...:  # read through the package's own functions
            family.add_metric([str(severity)], count)
        yield family

Names follow Prometheus' conventions: `keel_` first, units in the name (`_seconds`), counters
as CounterMetricFamily without `_total` (the library adds it), and only label values from
bounded sets (environments, job names, severities, the systems of the catalog), never ids
of requests, users or tokens. A collector that raises is left out of that scrape, and
`keel_metrics_collector_up{collector}` says so.

This module imports no other Keel module: any package may declare figures here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Collect = Callable[[Any], Iterable[Any]]  # a read Session -> prometheus_client metric families


@dataclass(frozen=True)
class Collector:
    name: str
    collect: Collect
    package: str


_COLLECTORS: dict[str, Collector] = {}


def collector(name: str) -> Callable[[Collect], Collect]:
    """Declare `fn(session)` a collector named `name` (its package's name, or `<package>.<what>`)."""

    def declare(fn: Collect) -> Collect:
        if name in _COLLECTORS:
            raise ValueError(f"collector {name!r} is declared twice")
        parts = fn.__module__.split(".")
        package = parts[1] if parts[0] == "keel" and len(parts) > 1 else fn.__module__
        _COLLECTORS[name] = Collector(name, fn, package)
        return fn

    return declare


def collectors() -> list[Collector]:
    """Every declared collector, by name."""
    return [_COLLECTORS[n] for n in sorted(_COLLECTORS)]
