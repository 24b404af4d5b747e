"""Requests and tokens per minute, per key and per endpoint, with a sliding-window counter.

The counting is the `limits` library's sliding window counter (two fixed windows, the
previous one weighted by how much of it still overlaps the last minute: two counters per
limit, never an entry per token). Storage is in memory for one gateway process, or Redis
(`KEEL_REDIS_URL`) shared by every replica, so that the allowance is the limit, not the
limit times the replicas: the check-and-increment runs as one Lua script in Redis.

A request takes every applicable limit; when one refuses, what the others took is given
back. A token reservation (prompt + max_tokens) is settled with the upstream's usage
afterwards: `settle` adds or gives back the difference in the current window. With Redis a
request's checks go in one pipeline of the library's own script (one round trip, not one
per limit), and so do its settlements: every gateway worker needs Redis, so this is paid
on every request.

Redis is asked with a short deadline (`timeout`, 50 ms by default for a whole request's
limits, as Envoy's rate-limit filter does with its 20 ms) behind a circuit breaker: a store
that is down or hung raises `Unavailable` at once instead of holding every request, and
after 3 failures in a row it is not asked at all for 2 s (then one request probes). What a
route does then (refuse, or serve unchecked) is the gateway's decision, per route.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from keel.gateway.breaker import Breaker

TIMEOUT = 0.05  # seconds for one request's round trips to Redis
STORE = "limits"  # the breaker's name for the limit store
T = TypeVar("T")

# Give back at most what the counter holds (a window may have turned since it was taken).
_GIVE_BACK = """
local v = tonumber(redis.call('get', KEYS[1]) or '0')
local d = math.min(v, tonumber(ARGV[1]))
if d > 0 then redis.call('decrby', KEYS[1], d) end
return d
"""


@dataclass(frozen=True, slots=True)
class Check:
    """One limit to take from: `scope` (key-rpm, key-tpm, endpoint-rpm, endpoint-tpm),
    whose counter is `ident`, holding `limit` per minute; `cost` is what this request takes."""

    scope: str
    ident: str
    limit: int
    cost: int

    @property
    def item(self) -> RateLimitItem:
        return _item(self.limit)


class Unavailable(Exception):
    """The limit store could not be asked (down, hung, or its breaker open)."""

    def __init__(self, retry_after: int, reason: str):
        super().__init__(reason)
        self.retry_after = retry_after


_ITEMS: dict[int, RateLimitItem] = {}
_EXPIRY = 60  # s: every limit is per minute
LATER = 0.02  # s a settlement waits, at most, for the next request's round trip


async def _execute(client, pipe, scripts: list) -> list:
    """Run a pipeline of EVALSHA calls; when Redis lost the scripts (a restart, SCRIPT
    FLUSH), load them and run it once more. (A pipeline given the Script objects would
    instead ask SCRIPT EXISTS first, one more round trip on every request.)"""
    from redis.exceptions import NoScriptError

    commands = list(pipe.command_stack)
    try:
        return await pipe.execute()
    except NoScriptError:
        for script in scripts:
            await client.script_load(script.script)
        pipe.command_stack = commands
        return await pipe.execute()


def _item(limit: int) -> RateLimitItem:
    item = _ITEMS.get(limit)
    if item is None:
        item = _ITEMS[limit] = RateLimitItemPerMinute(limit, namespace="keel-gw")
    return item


class Limiter:
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        timeout: float = TIMEOUT,
        breaker: Breaker | None = None,
    ):
        self.redis_url = redis_url
        self.timeout = timeout
        self.breaker = breaker or Breaker(threshold=3, cooldown=2.0)
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self.storage = RedisStorage(
                uri,
                implementation="redispy",
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )
            self._give_back = None
        else:
            self.storage = MemoryStorage()
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._later: list[tuple[Check, int]] = []  # settlements riding on the next round trip
        self._timer: asyncio.TimerHandle | None = None

    @property
    def backend(self) -> str:
        return "redis" if self.redis_url else "memory"

    async def start(self) -> None:
        """With Redis: connect and load the scripts now, so that the first requests do not
        pay for it within their deadline; a store that is down now is retried per request."""
        if self.redis_url:
            warm = Check("warm-up", "warm-up", 1 << 30, 1)
            async with asyncio.timeout(max(2.0, self.timeout)):
                await self._acquire([warm])
                await self._settle([(warm, 1), (warm, -2)])

    async def _ask(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` against the store within the deadline, behind the breaker; raises
        `Unavailable` instead of waiting on a store that does not answer."""
        if not self.redis_url:
            return await work()  # in memory: nothing to wait for
        wait = self.breaker.check(STORE)
        if wait is not None:
            raise Unavailable(wait, "the limit store's breaker is open")
        try:
            async with asyncio.timeout(self.timeout):
                result = await work()
        except Exception as exc:
            self.breaker.failure(STORE)
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
            raise Unavailable(max(1, math.ceil(self.breaker.cooldown)), reason) from None
        self.breaker.success(STORE)
        return result

    async def acquire(self, checks: list[Check]) -> Check | None:
        """Take every check's cost; returns the first that refuses (having given back the
        others), or None when all were taken. Raises `Unavailable` when the store is."""
        return await self._ask(lambda: self._acquire(checks))

    async def _acquire(self, checks: list[Check]) -> Check | None:
        if self.redis_url:
            return await self._acquire_redis(checks)
        taken: list[Check] = []
        for check in checks:
            if not await self.strategy.hit(check.item, check.ident, cost=check.cost):
                for done in taken:
                    await self._adjust(done, -done.cost)
                return check
            taken.append(check)
        return None

    async def _acquire_redis(self, checks: list[Check]) -> Check | None:
        """Every check in one round trip: a pipeline of the `limits` library's own
        sliding-window script, one call per check (the same check-and-increment as `hit`)."""
        storage, bridge = self.storage, self.storage.bridge
        script = bridge.lua_acquire_sliding_window
        pipe = bridge.get_connection().pipeline(transaction=False)
        later, self._later = self._later, []
        self._queue_settlements(pipe, later)  # first: what they give back counts now
        for check in checks:
            key = check.item.key_for(check.ident)
            previous = bridge.prefixed_key(storage._previous_window_key(key))
            current = bridge.prefixed_key(storage._current_window_key(key))
            pipe.evalsha(script.sha, 2, previous, current, check.limit, _EXPIRY, check.cost)
        scripts = [script, *(self._settle_scripts() if later else ())]
        taken = (await _execute(bridge.get_connection(), pipe, scripts))[len(later) :]
        refused = next((c for c, ok in zip(checks, taken, strict=True) if not ok), None)
        if refused is not None:  # give back what the others took, in one more round trip
            await self._settle([(c, -c.cost) for c, ok in zip(checks, taken, strict=True) if ok])
        return refused

    async def adjust(self, check: Check, delta: int) -> None:
        """Add `delta` (positive: used more than reserved; negative: give back) to the
        current window of `check`'s counter, never refusing and never below zero."""
        await self.settle([(check, delta)])

    async def settle(self, adjustments: list[tuple[Check, int]], *, later: bool = False) -> None:
        """`adjust` for several counters at once (with Redis, one round trip). `later`:
        with Redis, they ride on this process's next acquire's round trip (ahead of its
        checks), or go on their own within `LATER` s when no request comes: after its
        answer a request then costs no round trip of its own."""
        adjustments = [(check, delta) for check, delta in adjustments if delta != 0]
        if not adjustments:
            return
        if later and self.redis_url:
            self._later.extend(adjustments)
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(LATER, self._send_later)
            return
        await self._ask(lambda: self._settle(adjustments))

    def _send_later(self) -> None:
        self._timer = None
        if self._later:
            asyncio.get_running_loop().create_task(self._settle_later())

    async def _settle_later(self) -> None:
        waiting, self._later = self._later, []
        with contextlib.suppress(Unavailable):  # as for a request's own: reservations stand
            await self._ask(lambda: self._settle(waiting))

    async def _settle(self, adjustments: list[tuple[Check, int]]) -> None:
        if not self.redis_url:
            for check, delta in adjustments:
                await self._adjust(check, delta)
            return
        client = self.storage.bridge.get_connection()
        pipe = client.pipeline(transaction=False)
        self._queue_settlements(pipe, adjustments)
        await _execute(client, pipe, self._settle_scripts())

    def _settle_scripts(self) -> list:
        bridge = self.storage.bridge
        if self._give_back is None:
            self._give_back = bridge.get_connection().register_script(_GIVE_BACK)
        return [bridge.lua_incr_expire, self._give_back]

    def _queue_settlements(self, pipe, adjustments: list[tuple[Check, int]]) -> None:
        if not adjustments:
            return
        storage, bridge = self.storage, self.storage.bridge
        add, give_back = self._settle_scripts()
        for check, delta in adjustments:
            key = check.item.key_for(check.ident)
            current = bridge.prefixed_key(storage._current_window_key(key))
            if delta > 0:
                pipe.evalsha(add.sha, 1, current, 2 * _EXPIRY, delta)
            else:
                pipe.evalsha(give_back.sha, 1, current, -delta)

    async def _adjust(self, check: Check, delta: int) -> None:
        """In memory."""
        key = check.item.key_for(check.ident)
        expiry = check.item.get_expiry()
        _, current = self.storage.sliding_window_keys(key, expiry, time.time())
        if delta > 0:
            await self.storage.incr(current, 2 * expiry, delta)
        else:
            await self.storage.decr(current, -delta)

    async def retry_after(self, check: Check) -> int:
        """Whole seconds until `check` could take its cost again (at least 1; 60 when the
        store cannot say)."""
        try:
            stats = await self._ask(lambda: self.strategy.get_window_stats(check.item, check.ident))
        except Unavailable:
            return 60
        wait = stats.reset_time - time.time()
        return max(1, min(60, math.ceil(wait)))

    async def remaining(self, check: Check) -> int:
        stats = await self.strategy.get_window_stats(check.item, check.ident)
        return stats.remaining

    async def close(self) -> None:
        if self.redis_url:
            if self._timer is not None:
                self._timer.cancel()
            if self._later:
                await self._settle_later()
            client = self.storage.bridge.storage
            await client.aclose()
