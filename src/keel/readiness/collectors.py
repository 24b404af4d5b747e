"""The readiness figures for `/metrics` (keel.metrics): each system's readiness score, as
`readiness.rescore` (keel.readiness.jobs, run by `keel worker`) last recorded it in the log.

Scoring every system on every scrape would cost a catalog walk per system; the log already
holds each change of score. Each process reads only the `readiness.score.changed` events
appended since its last scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from keel.audit import head, list_events
from keel.audit.collectors import store_of
from keel.metrics import collector
from keel.readiness.jobs import CHANGED

_seen: dict[str, tuple[int, dict[str, float]]] = {}
_lock = threading.Lock()


def recorded_scores(session) -> dict[str, float]:
    """system -> its last recorded score."""
    top = head(session)
    with _lock:
        upto, scores = _seen.get(store_of(session), (0, {}))
        if top < upto:
            upto, scores = 0, {}
        scores = dict(scores)
        for event in list_events(session, action=CHANGED, after=upto):
            if event.seq <= top and isinstance(event.details.get("after"), int | float):
                scores[event.subject] = event.details["after"]
        _seen[store_of(session)] = (top, scores)
    return scores


@collector("readiness")
def readiness_scores(session) -> Iterator:
    family = GaugeMetricFamily(
        "keel_readiness_score",
        "Each system's readiness score (0-100), as last recorded by the worker's re-score.",
        labels=["system"],
    )
    for system, score in sorted(recorded_scores(session).items()):
        family.add_metric([system], score)
    yield family
