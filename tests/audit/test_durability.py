"""Durable when the call returns: SIGKILL an appending process, then verify the log.

A child process appends one event per transaction in a loop and prints each seq once its
transaction has committed. It is killed at a random moment, several times; after each
kill the log must verify, and no event the child reported must be missing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from keel import audit
from keel.audit import checkpoints
from keel.audit import log as audit_log
from keel.workspace import open_workspace

CHILD = """
import sys
from keel import audit
from keel.config import load_settings
from keel.identity import user_actor
from keel.workspace import open_workspace

ws = open_workspace(load_settings())
actor = user_actor("killer", "local")
i = 0
while True:
    with ws.write(actor) as session:
        (event,) = audit.append(session, actor, [audit.Change("test.tick", "loop", {"i": i})])
    sys.stdout.write(f"{event.seq}\\n")
    sys.stdout.flush()
    i += 1
"""


def test_sigkill_mid_append_never_loses_a_returned_event_or_breaks_the_log(ws, settings):
    env = {
        **os.environ,
        "KEEL_HOME": str(settings.home),
        "KEEL_DATABASE_URL": settings.database_url,
    }
    rng = random.Random(7)
    reported: list[int] = []
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        first = child.stdout.readline()  # appending has begun
        assert first, child.stderr.read().decode()[-500:]
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        lines = (first + out).decode().split("\n")[:-1]  # a cut-off last line is not a return
        reported.extend(int(x) for x in lines)
        fresh = open_workspace(settings)
        try:
            with fresh.write(audit_actor()) as session:
                checkpoints.checkpoint(session, fresh.signer())
            with fresh.read() as session:
                result = audit_log.verify(session, fresh.name)
                stored = {e.seq for e in audit.list_events(session, action="test.tick")}
        finally:
            fresh.close()
        assert result.ok, result.problems
        assert set(reported) <= stored, sorted(set(reported) - stored)[:5]
    assert len(reported) > 20


def audit_actor():
    from keel.identity import user_actor

    return user_actor("checker", "local")
