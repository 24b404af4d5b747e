"""The readiness package's background work: re-score every system (`keel worker`).

A system's score moves when the catalog, the pipeline or the reviews do; nobody re-runs
`keel ready` to notice. `readiness.rescore` scores every System and appends
`readiness.score.changed` (subject the system, details `system`, `before`, `after`) for each
whose score differs from the last one recorded (`before` is null the first time), so the log
holds each system's readiness over time.
"""

from __future__ import annotations

from keel.audit import Change, append, list_events
from keel.catalog.queries import list_entities
from keel.readiness.scorecard import readiness
from keel.worker.registry import JobContext, job

CHANGED = "readiness.score.changed"
PAGE = 500


def recorded(session, system: str) -> float | None:
    """The score last recorded for `system`, or None."""
    found = list_events(session, subject=system, action=CHANGED, limit=1)
    return found[0].details.get("after") if found else None


def systems(session) -> list[str]:
    keys, offset = [], 0
    while True:
        page = list_entities(session, kind="System", limit=PAGE, offset=offset)
        keys += [item.ref for item in page.items]
        offset += PAGE
        if offset >= page.total:
            return keys


@job("readiness.rescore", cron="7 * * * *", description="Re-score every system; log changes.")
def rescore(ctx: JobContext) -> str | None:
    changes = []
    for key in systems(ctx.session):
        after = readiness(ctx.session, key).score
        before = recorded(ctx.session, key)
        if before != after:
            changes.append(Change(CHANGED, key, {"system": key, "before": before, "after": after}))
    append(ctx.session, ctx.actor, changes)
    return f"{len(changes)} score(s) changed" if changes else None
