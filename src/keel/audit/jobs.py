"""The audit log's background work (run by `keel worker`, see keel.worker.registry).

- `audit.checkpoint`, a reconciler: signs the tail of each log this host holds the key for
  (the governance key, and the traffic key where it is here), every quarter of the maximum
  merge delay, so no event stays unsigned longer than `keel audit verify` allows even when
  the process that appended it died before signing.
- `audit.verify`, daily: verifies both logs against the pinned key file, as `keel audit verify`
  does; a failure appends `audit.verify.failed` (subject `workspace`, one per failing log,
  with the problems as one-line strings), which opens an incident, and fails the slot.
"""

from __future__ import annotations

from keel.audit import checkpoints, keys, trust
from keel.audit import log as audit_log
from keel.audit.events import GOVERNANCE, Change, append, head
from keel.audit.verify import MAX_TAIL_AGE
from keel.errors import WorkspaceError
from keel.worker.registry import JobContext, JobFailed, job, reconciler

VERIFY_FAILED = "audit.verify.failed"
MAX_PROBLEMS = 20


def signers(ws) -> list[tuple[str, keys.Signer]]:
    """(log, key) for each log whose signing key this host holds."""
    found = []
    governance = ws.signer()
    if governance is not None:
        found.append((GOVERNANCE, governance))
    try:
        name = trust.key_name(ws.name, "traffic")
        found.append(("traffic", keys.load_signer(ws.settings.home, name, keys.TRAFFIC_KEY_FILE)))
    except WorkspaceError:
        pass  # the traffic key lives on the gateway's host
    return found


@reconciler(
    "audit.checkpoint",
    every=MAX_TAIL_AGE / 4,
    description="Sign the unsigned tail of each log whose key this host holds.",
)
def sign_tails(ctx: JobContext) -> str | None:
    signed = []
    for log, signer in signers(ctx.workspace):
        last = checkpoints.latest(ctx.session, log)
        size = head(ctx.session, log)
        if size and (last is None or last.size < size):
            checkpoints.checkpoint(ctx.session, signer, log, force=True)
            signed.append(f"{log} at {size}")
    return f"signed {', '.join(signed)}" if signed else None


@job(
    "audit.verify",
    cron="17 3 * * *",
    description="Verify both logs against the pinned key; a failure opens an incident.",
)
def verify_logs(ctx: JobContext) -> str:
    ws = ctx.workspace
    signer = ws.signer()
    if signer is None:
        raise WorkspaceError(f"no {keys.KEY_FILE} on this host to verify the logs against")
    home = ws.settings.home
    with ws.read() as session:  # a snapshot of its own: the slot's session holds the writer
        present = set(audit_log.logs(session))
        wanted = [GOVERNANCE, *sorted(present - {GOVERNANCE})]
        results = audit_log.verify_logs(
            session,
            ws.name,
            wanted,
            pinned=[audit_log.VerifierKey(signer.name, signer.public_key)],
            since=audit_log.remembered(home),
        )
    audit_log.remember(home, results)
    failed = [r for r in results if not r.ok]
    append(
        ctx.session,
        ctx.actor,
        [
            Change(
                VERIFY_FAILED,
                "workspace",
                {"log": r.log, "problems": [p.splitlines()[0] for p in r.problems[:MAX_PROBLEMS]]},
            )
            for r in failed
        ],
    )
    if failed:
        raise JobFailed("; ".join(r.summary() for r in failed))
    return "; ".join(f"{r.log}: {r.events} events verified" for r in results)
