"""Keeping a running gateway's config current: poll the config version each second.

The version is the governance log's head (`keel.gateway.config.version`), one indexed
`max(seq)` query; when it moved, the whole snapshot is reloaded in a worker thread and
swapped in with one assignment, so requests in flight finish on the snapshot they started
with and none is dropped. A change is live within `interval` + the reload time (< 2 s);
if the store cannot be read, the last snapshot keeps serving and the error is logged.
Chosen over LISTEN/NOTIFY or Redis pub/sub because it works the same on SQLite and
PostgreSQL, needs no extra connection per gateway, and catches changes made by anything
that writes the log (a promotion changes the release a route records).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from keel.gateway import config
from keel.gateway.config import Snapshot
from keel.workspace import Workspace

logger = logging.getLogger("keel.gateway")
INTERVAL = 1.0


class Watcher:
    def __init__(
        self,
        ws: Workspace,
        *,
        interval: float = INTERVAL,
        on_load: Callable[[Snapshot], None] | None = None,
    ):
        self.ws = ws
        self.interval = interval
        self.on_load = on_load
        self.current = self._load()
        self._task: asyncio.Task | None = None

    def snapshot(self) -> Snapshot:
        return self.current

    def _load(self) -> Snapshot:
        with self.ws.read() as session:
            snapshot = config.load(session)
        if self.on_load is not None:
            self.on_load(snapshot)
        return snapshot

    def _version(self) -> int:
        with self.ws.read() as session:
            return config.version(session)

    async def poll(self) -> bool:
        """Reload when the version moved; returns whether it did."""
        version = await asyncio.to_thread(self._version)
        if version == self.current.version:
            return False
        self.current = await asyncio.to_thread(self._load)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except Exception as exc:  # keep serving the last good snapshot
                logger.warning("gateway: cannot reload the config: %s", exc)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
