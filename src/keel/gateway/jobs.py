"""The gateway's background work: warn before consumer API keys expire (`keel worker`).

`gateway.key.expiring` (subject `consumer:NAME`) is appended once per key per warning
window (30, 7 and 1 days before it expires; keel.clock.WARN_DAYS), however often the job
runs; the notifications package delivers it to whoever subscribed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from keel.audit import Change, append, list_events
from keel.clock import WARN_DAYS, expiry_window, stamp
from keel.gateway.tables import KeyRow
from keel.worker.registry import JobContext, job

EXPIRING = "gateway.key.expiring"


@job("gateway.key_expiry", cron="0 * * * *", description="Warn before gateway keys expire.")
def warn_expiring(ctx: JobContext) -> str | None:
    horizon = stamp(ctx.now.replace(microsecond=0) + timedelta(days=max(WARN_DAYS)))
    rows = ctx.session.scalars(
        select(KeyRow)
        .where(
            KeyRow.revoked_at.is_(None),
            KeyRow.expires_at.is_not(None),
            KeyRow.expires_at > stamp(ctx.now),
            KeyRow.expires_at <= horizon,
        )
        .order_by(KeyRow.expires_at, KeyRow.id)
    )
    changes = []
    for row in rows:
        found = expiry_window(row.expires_at, ctx.now)
        subject = f"consumer:{row.consumer}"
        if found is None or found[1] in _warned(ctx.session, subject, row.id):
            continue
        days, window = found
        details = {"key": row.id, "expires_at": row.expires_at, "days_left": days}
        changes.append(Change(EXPIRING, subject, {**details, "window": window}))
    append(ctx.session, ctx.actor, changes)
    return f"warned about {len(changes)} key(s)" if changes else None


def _warned(session, subject: str, key: str) -> set[int]:
    return {
        e.details.get("window")
        for e in list_events(session, subject=subject, action=EXPIRING)
        if e.details.get("key") == key
    }
