"""The thread that keeps a long-running process's unsigned tail short (`keel serve`).

Every `every` seconds it signs the log if this process appended since the last signing,
so an event stays unsigned for at most about `every` seconds while the process runs; the
process signs once more as it shuts down (`Workspace.close`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("keel.audit")


class Sealer:
    def __init__(self, seal: Callable[[], None], due: Callable[[], bool], every: float):
        self.seal, self.due, self.every = seal, due, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keel-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if not self.due():
                continue
            try:
                self.seal()
            except Exception:  # the store is away: the next pass tries again
                logger.exception("audit: cannot sign the log's tail")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
