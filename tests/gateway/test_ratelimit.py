"""The limiter's contract, run over both storages: memory (one process) and Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from keel.gateway.ratelimit import LATER, Check, Limiter


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> str | None:
    if request.param == "memory":
        return None
    return request.getfixturevalue("redis_url")


def run(storage, body):
    async def main():
        limiter = Limiter(storage)
        try:
            return await body(limiter)
        finally:
            await limiter.close()

    return asyncio.run(main())


def fresh(scope: str, limit: int, cost: int = 1) -> Check:
    return Check(scope, uuid.uuid4().hex, limit, cost)


def test_allows_exactly_the_limit(storage):
    async def body(limiter: Limiter):
        check = fresh("key-rpm", 5)
        results = [await limiter.acquire([check]) is None for _ in range(8)]
        assert results == [True] * 5 + [False] * 3
        assert 1 <= await limiter.retry_after(check) <= 60
        assert await limiter.remaining(check) == 0

    run(storage, body)


def test_a_refusal_gives_back_what_the_other_limits_took(storage):
    async def body(limiter: Limiter):
        roomy, tight = fresh("key-rpm", 100), fresh("endpoint-rpm", 1)
        assert await limiter.acquire([roomy, tight]) is None
        refused = await limiter.acquire([roomy, tight])
        assert refused == tight
        assert await limiter.remaining(roomy) == 99  # the second take was given back

    run(storage, body)


def test_tokens_reserved_then_settled(storage):
    async def body(limiter: Limiter):
        reserve = fresh("key-tpm", 1000, 600)
        assert await limiter.acquire([reserve]) is None
        assert await limiter.acquire([reserve]) == reserve  # 1,200 > 1,000
        await limiter.adjust(reserve, 40 - 600)  # the upstream used 40
        assert await limiter.remaining(reserve) == 960
        await limiter.adjust(reserve, 100)  # used more than reserved: counted, never refused
        assert await limiter.remaining(reserve) == 860
        await limiter.adjust(reserve, -5000)  # never below zero
        assert await limiter.remaining(reserve) == 1000

    run(storage, body)


def test_a_cost_above_the_limit_is_refused(storage):
    async def body(limiter: Limiter):
        check = fresh("key-tpm", 100, 101)
        assert await limiter.acquire([check]) == check

    run(storage, body)


def test_a_settlement_left_for_later_counts_before_the_next_check(storage):
    """With Redis it rides on the next acquire's round trip, or goes alone within LATER s."""

    async def body(limiter: Limiter):
        reserve = fresh("key-tpm", 1000, 600)
        assert await limiter.acquire([reserve]) is None
        await limiter.settle([(reserve, 40 - 600)], later=True)  # the upstream used 40
        assert await limiter.acquire([reserve]) is None  # 640 of 1,000: it fits
        await limiter.settle([(reserve, -600)], later=True)
        await asyncio.sleep(LATER * 5)  # no request came: sent on its own
        assert await limiter.remaining(reserve) == 960
        await limiter.settle([(reserve, 100)], later=True)
        if limiter.redis_url:  # it waits; closing sends it
            await limiter.close()
            limiter = Limiter(limiter.redis_url)
        try:
            assert await limiter.remaining(reserve) == 860
        finally:
            await limiter.close()

    run(storage, body)
