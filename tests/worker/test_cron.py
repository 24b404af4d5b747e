"""Cron schedules: five fields, IANA zones, one-line refusals, and slots around `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.worker import cron

ZONES = ["UTC", "Europe/Lisbon", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
EXPRESSIONS = ["* * * * *", "*/15 * * * *", "30 1 * * *", "0 3 * * 1-5", "5 0 1 * *", "0 */6 * * *"]


@pytest.mark.parametrize(
    "expression, zone, says",
    [
        ("* * * * * *", "UTC", "has 6 fields; it needs five"),
        ("0 3 * *", "UTC", "has 4 fields"),
        ("61 * * * *", "UTC", "is not a valid cron expression"),
        ("0 25 * * *", "UTC", "is not a valid cron expression"),
        ("0 0 31 2 *", "UTC", "never matches"),
        ("* * * * *", "Mars/Olympus", "is not an IANA time zone"),
        ("* * * * *", "Europe/../UTC", "is not an IANA time zone"),
        ("* * * * *", "", "is not an IANA time zone"),
        ("x" * 300, "UTC", "not a short string"),
    ],
)
def test_a_bad_expression_or_zone_is_refused_in_one_line(expression, zone, says):
    with pytest.raises(ValueError, match=says) as caught:
        cron.parse(expression, zone)
    assert "\n" not in str(caught.value)


def test_slots_are_evaluated_in_the_zone():
    lisbon = cron.parse("0 3 * * *", "Europe/Lisbon")
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # Lisbon is UTC+1 in summer
    assert lisbon.previous(summer) == datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    assert lisbon.following(summer) == datetime(2026, 7, 2, 2, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # and UTC+0 in winter
    assert lisbon.previous(winter) == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_a_slot_at_now_is_the_previous_one():
    hourly = cron.parse("0 * * * *", "UTC")
    at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert hourly.previous(at) == at
    assert hourly.following(at) == at + timedelta(hours=1)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(EXPRESSIONS),
    st.sampled_from(ZONES),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1)),
)
def test_previous_and_following_bracket_now(expression, zone, naive):
    schedule = cron.parse(expression, zone)
    now = naive.replace(tzinfo=UTC)
    before, after = schedule.previous(now), schedule.following(now)
    assert before <= now < after
    # nothing between them: the slot after `before` is `after` itself (or `before` is now)
    assert schedule.following(before) == after or before == now
    assert before.second == 0 and after.second == 0
