"""The notifications package's work for `keel worker`: one reconciler that delivers.

Each pass fans out what the governance log gained since the cursor and attempts what is
due, all in the pass's own transaction (the worker commits it with the pass's record). A
worker killed mid-pass loses that pass's records, never a notification: the deliveries stay
due and are sent again under the same `webhook-id`.

That transaction holds the store's writer lock while it sends, so a pass is kept short
(`IN_WORKER`): 5 s per attempt, at most 20 attempts, and none started after 10 s; what is
left stays due for the next pass, 5 s later.
"""

from __future__ import annotations

from contextlib import nullcontext

from keel.notifications.deliver import Policy, run_pass
from keel.notifications.targets import control_plane
from keel.worker.registry import JobContext, reconciler

IN_WORKER = Policy(timeout=5.0, per_pass=20, budget=10.0)


@reconciler(
    "notifications.deliver",
    every=5.0,
    description="Fan new governance events out to subscriptions; send the deliveries due.",
)
def deliver(ctx: JobContext) -> str | None:
    settings = ctx.workspace.settings
    done = run_pass(
        lambda: nullcontext(ctx.session),
        ctx.actor,
        now=ctx.now,
        public_url=settings.public_url,
        own=control_plane(settings.public_url, settings.url),
        policy=IN_WORKER,
    )
    return done.summary()
