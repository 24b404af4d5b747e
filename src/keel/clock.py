"""Wall-clock timestamps as Keel stores them: UTC, whole seconds, ISO 8601 with a trailing Z.

Stored stamps compare as strings (`expires_at <= stamp()`), so every writer uses this one form.
"""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as "2026-11-25T22:48:45Z"."""
    moment = moment or datetime.now(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


WARN_DAYS = (30, 7, 1)  # the windows before an expiry in which an owner is warned, once each


def parse_stamp(text: str) -> datetime:
    """A stored stamp (or any ISO 8601 time; UTC if it names no zone) as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expiry_window(expires_at: str, now: datetime) -> tuple[int, int] | None:
    """(whole days left, the warning window it falls in) for a credential expiring at
    `expires_at`, or None when it is not yet within the widest window or already expired."""
    left = parse_stamp(expires_at) - now
    if left.total_seconds() <= 0:
        return None
    days = left.days
    windows = [w for w in WARN_DAYS if days < w]
    return (days, min(windows)) if windows else None
