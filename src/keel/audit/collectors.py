"""The audit log's figures for `/metrics` (keel.metrics): events and unsigned events per log,
and every refusal the log records (`<package>.<noun>.refused`), by action.

Refusals are counted from the log itself, so they survive restarts and agree across
control-plane replicas. Each process reads only the events appended since its last scrape
(a range of the primary key); a log found shorter than before is counted again from its
start.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from keel.audit.actions import current
from keel.audit.checkpoints import latest
from keel.audit.events import GOVERNANCE, head
from keel.audit.log import logs
from keel.metrics import collector
from keel.store import driver

_REFUSED = (
    "SELECT action, count(*) FROM audit_events WHERE log = ? AND seq > ? AND seq <= ? "
    "AND action LIKE '%.refused' GROUP BY action"
)
_seen: dict[str, tuple[int, Counter]] = {}  # store URL -> (seq counted up to, counts)
_lock = threading.Lock()


def store_of(session) -> str:
    """The key a process keeps a reader's progress under: the store's URL."""
    return str(session.get_bind().engine.url)


def refusals(session) -> Counter:
    """Refusals in the governance log by action (its current name), caught up to its head."""
    top = head(session, GOVERNANCE)
    with _lock:
        upto, counts = _seen.get(store_of(session), (0, Counter()))
        if top < upto:  # cut back: count again (verify names what happened)
            upto, counts = 0, Counter()
        counts = Counter(counts)
        for action, count in driver.fetch_all(
            session.connection(), _REFUSED, (GOVERNANCE, upto, top)
        ):
            counts[current(action)] += count
        _seen[store_of(session)] = (top, counts)
    return counts


@collector("audit")
def audit_figures(session) -> Iterator:
    refused = CounterMetricFamily(
        "keel_refusals", "Refusals the governance log records, by action.", labels=["action"]
    )
    for action, count in sorted(refusals(session).items()):
        refused.add_metric([action], count)
    yield refused
    events = GaugeMetricFamily("keel_audit_events", "Events in each log.", labels=["log"])
    unsigned = GaugeMetricFamily(
        "keel_audit_unsigned_events",
        "Events of each log that no signed checkpoint covers yet.",
        labels=["log"],
    )
    for log in logs(session):
        size = head(session, log)
        signed = latest(session, log)
        events.add_metric([log], size)
        unsigned.add_metric([log], size - (signed.size if signed else 0))
    yield events
    yield unsigned
