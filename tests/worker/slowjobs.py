"""A job for the SIGKILL tests: it writes one event for its slot, slowly, inside the slot's
transaction, so a kill lands before, during or after its writes."""

from __future__ import annotations

import random
import sys
import time

from keel import audit
from keel.worker.registry import JobContext, job
from tests.worker.helpers import SLOW_ACTION as ACTION


@job("tests.slow", cron="* * * * *", description="Writes its slot, slowly.")
def slow(ctx: JobContext) -> str:
    sys.stderr.write("slot started\n")  # the test kills at a random moment from here
    sys.stderr.flush()
    time.sleep(random.uniform(0, 0.3))
    audit.append(
        ctx.session, ctx.actor, [audit.Change(ACTION, "job:tests.slow", {"slot": str(ctx.slot)})]
    )
    time.sleep(random.uniform(0, 0.3))
    return "wrote"
