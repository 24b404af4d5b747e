"""Wall-clock timestamps as Keel stores them: UTC, whole seconds, ISO 8601 with a trailing Z.

Stored stamps compare as strings (`expires_at <= stamp()`), so every writer uses this one form.
"""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as "2026-11-25T22:48:45Z"."""
    moment = moment or datetime.now(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
