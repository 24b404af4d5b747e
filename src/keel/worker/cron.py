"""Cron schedules: five-field expressions (croniter) evaluated in an IANA time zone (zoneinfo).

A slot is a moment the expression matches in its zone, kept as a UTC time. `previous(now)` is
the newest slot at or before `now` and `following(now)` the first one after it; the worker runs
a job for `previous(now)` when that slot is newer than the last one it handled, so a worker
that was down for many slots runs one, not one per missed slot. Daylight-saving changes are
croniter's: a slot in a skipped hour runs at the first moment after it, a repeated hour once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

MAX_EXPRESSION = 200


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str
    zone: ZoneInfo

    def previous(self, now: datetime) -> datetime:
        """The newest slot at or before `now` (UTC)."""
        local = now.astimezone(self.zone).replace(microsecond=0)  # croniter drops them
        # croniter's get_prev is strictly before its start: start a second later
        slot = croniter(self.cron, local + timedelta(seconds=1)).get_prev(datetime)
        return slot.astimezone(UTC)

    def following(self, now: datetime) -> datetime:
        """The first slot after `now` (UTC)."""
        local = now.astimezone(self.zone).replace(microsecond=0)
        slot = croniter(self.cron, local).get_next(datetime)
        return slot.astimezone(UTC)


def parse(cron: str, timezone: str) -> Schedule:
    """The schedule, or ValueError with one line saying what is wrong with it."""
    if not isinstance(cron, str) or len(cron) > MAX_EXPRESSION:
        raise ValueError("the cron expression is not a short string")
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron {cron!r} has {len(fields)} fields; it needs five "
            "(minute hour day-of-month month day-of-week)"
        )
    if not croniter.is_valid(cron):
        raise ValueError(f"cron {cron!r} is not a valid cron expression")
    try:
        zone = ZoneInfo(timezone) if isinstance(timezone, str) and timezone else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = None
    if zone is None:
        raise ValueError(f"time zone {timezone!r} is not an IANA time zone such as Europe/Lisbon")
    schedule = Schedule(" ".join(fields), timezone, zone)
    try:  # an expression that never matches (`0 0 31 2 *`) fails here, not in the loop
        schedule.following(datetime(2000, 1, 1, tzinfo=UTC))
    except Exception as exc:
        raise ValueError(f"cron {cron!r} never matches: {exc}") from None
    return schedule
