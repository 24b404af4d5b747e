"""The notifications package's work for `keel worker`: one reconciler that delivers.

Each pass fans out what the governance log gained since the cursor in one transaction, then
sends what is due outside any transaction and records each attempt in a short transaction of
its own (the reconciler is declared `own_transactions`): a slow or silent receiver never
holds the store's writer lock, so the API and the CLI keep writing while it is waited on. A
worker killed mid-send loses at most the record of the attempt in flight, never a
notification: the delivery stays due and is sent again under the same `webhook-id`.

A pass is kept short (`IN_WORKER`): 5 s per attempt, at most 20 attempts, and none started
after 10 s; what is left stays due for the next pass, 5 s later.
"""

from __future__ import annotations

from keel.notifications.deliver import Policy, run_pass
from keel.notifications.targets import control_plane
from keel.worker.registry import JobContext, reconciler

IN_WORKER = Policy(timeout=5.0, per_pass=20, budget=10.0)


@reconciler(
    "notifications.deliver",
    every=5.0,
    description="Fan new governance events out to subscriptions; send the deliveries due.",
    own_transactions=True,
)
def deliver(ctx: JobContext) -> str | None:
    settings = ctx.workspace.settings
    done = run_pass(
        lambda: ctx.workspace.write(ctx.actor),
        ctx.actor,
        now=ctx.now,
        public_url=settings.public_url,
        own=control_plane(settings.public_url, settings.url),
        policy=IN_WORKER,
    )
    return done.summary()
