"""Retry delays: exponential, jittered between half and all of the step, capped."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from keel.notifications import Policy


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_a_delay_is_within_half_and_all_of_its_capped_step(attempt, seed):
    policy = Policy()
    step = min(policy.cap, policy.base * 2 ** (attempt - 1))
    delay = policy.delay(attempt, random.Random(seed))
    assert step / 2 <= delay <= step <= policy.cap


def test_delays_grow_then_stop_at_the_cap_and_are_jittered():
    policy = Policy()
    rng = random.Random(7)
    lows = [min(policy.delay(n, rng) for _ in range(50)) for n in range(1, 10)]
    assert lows[0] >= 15 and lows[1] >= 30 and lows[2] >= 60  # 30 s, then doubling
    assert max(policy.delay(20, rng) for _ in range(50)) <= 3600
    assert len({round(policy.delay(3, rng), 3) for _ in range(20)}) > 10  # not in lock-step
