"""The incidents package's background work, run by `keel worker` (see keel.worker.registry).

`incidents.detect` opens incidents for failed audit verifies and the gateway's anomalies
(keel.incidents.detect); its cursors commit with the incidents it opens, in the worker's
one transaction per pass.
"""

from __future__ import annotations

from keel.incidents.detect import detect as detect_pass
from keel.worker.registry import JobContext, reconciler

EVERY = 10.0  # seconds: the gateway's anomaly buckets are 10 s long


@reconciler(
    "incidents.detect",
    every=EVERY,
    description="Open incidents for failed audit verifies and the gateway's anomalies.",
)
def detect(ctx: JobContext) -> str | None:
    return detect_pass(ctx.session, ctx.actor).summary()
