"""The auth package's background work: warn before API tokens expire (`keel worker`).

`auth.token.expiring` (subject the token's user, the owner to warn) is appended once per
token per warning window (30, 7 and 1 days before it expires; keel.clock.WARN_DAYS), however
often the job runs; the notifications package delivers it. Login codes and web sessions
are short-lived by design and never warned about.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from keel.audit import Change, append, list_events
from keel.auth.tables import TokenRow
from keel.clock import WARN_DAYS, expiry_window, stamp
from keel.worker.registry import JobContext, job

EXPIRING = "auth.token.expiring"


@job("auth.token_expiry", cron="0 * * * *", description="Warn owners of API tokens near expiry.")
def warn_expiring(ctx: JobContext) -> str | None:
    horizon = stamp(ctx.now.replace(microsecond=0) + timedelta(days=max(WARN_DAYS)))
    rows = ctx.session.scalars(
        select(TokenRow)
        .where(
            TokenRow.kind == "api",
            TokenRow.revoked_at.is_(None),
            TokenRow.expires_at.is_not(None),
            TokenRow.expires_at > stamp(ctx.now),
            TokenRow.expires_at <= horizon,
        )
        .order_by(TokenRow.expires_at, TokenRow.id)
    )
    changes = []
    for row in rows:
        found = expiry_window(row.expires_at, ctx.now)
        if found is None or found[1] in _warned(ctx.session, row.user, row.id):
            continue
        days, window = found
        details = {"token": row.id, "expires": row.expires_at, "days_left": days}
        changes.append(Change(EXPIRING, row.user, {**details, "window": window}))
    append(ctx.session, ctx.actor, changes)
    return f"warned about {len(changes)} token(s)" if changes else None


def _warned(session, user: str, token: str) -> set[int]:
    return {
        e.details.get("window")
        for e in list_events(session, subject=user, action=EXPIRING)
        if e.details.get("token") == token
    }
