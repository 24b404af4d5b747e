"""Releases: `model@N`, a model artifact by digest, with its signed attestation bundle.

Creating a release gathers what it rests on (the model's lineage from the system map with
the training data by digest, the code commit, parameters, test reports, benchmark figures,
logs, and the audit events that put those nodes in their current state), signs a checkpoint
of the log, and writes a SLSA provenance statement and a Keel release statement about the
artifact (`keel.audit.attest`), both recorded in one `release.create` event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keel.audit import attest, checkpoints, keys, merkle, note, tree
from keel.audit import log as audit_log
from keel.audit.artifacts import artifact_digest
from keel.audit.events import GOVERNANCE, Change, append, head, list_events, now
from keel.catalog import pods, queries
from keel.catalog.impact import impact
from keel.catalog.queries import get_entity
from keel.catalog.refs import key_of
from keel.errors import ConflictError, InputError, NotFoundError, UsageError, WorkspaceError
from keel.identity import Actor
from keel.pipeline.runs import get_run
from keel.pipeline.tables import ReleaseRow
from keel.pipeline.testreports import Benchmark, TestReport
from keel.version import __version__
from keel.workspace.core import workspace_name

BUILDER = "https://keel.dev/builders/local/v1"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
CREATOR_ROLE = "mlEngineer"


@dataclass
class Build:
    """What the pipeline that built the artifact knows about it."""

    artifact: Path
    data: dict[str, Path] = field(default_factory=dict)  # DataSource ref -> the file(s) used
    commit: str | None = None
    repository: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    tests: list[TestReport] = field(default_factory=list)
    benchmarks: list[Benchmark] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    builder: str = BUILDER
    run: str | None = None  # the pipeline run that built it; its evidence becomes the release's
    started_on: str | None = None
    finished_on: str | None = None


@dataclass(frozen=True)
class Release:
    name: str
    model: str
    version: int
    system: str | None
    artifact: str
    artifact_digest: str
    created_at: str
    created_by: str
    bundle: bytes
    run: str | None = None  # the pipeline run that built it, whose evidence it takes

    @classmethod
    def from_row(cls, row: ReleaseRow) -> Release:
        return cls(
            row.name,
            row.model,
            row.version,
            row.system,
            row.artifact,
            row.artifact_digest,
            row.created_at,
            row.created_by,
            bytes(row.bundle),
            row.run,
        )

    @property
    def short_name(self) -> str:
        """`credit-scorer@3`: the name people type."""
        return f"{self.model.split('/', 1)[1]}@{self.version}"

    def statements(self) -> list[dict[str, Any]]:
        """The bundle's statements (decoded, not re-verified: the store is trusted here)."""
        from keel.audit.dsse import payload_of

        return [json.loads(payload_of(json.loads(line))) for line in self.bundle.splitlines()]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "version": self.version,
            "system": self.system,
            "artifact": self.artifact,
            "artifactDigest": self.artifact_digest,
            "createdAt": self.created_at,
            "createdBy": self.created_by,
        }


def create_release(
    session: Session,
    actor: Actor,
    signer: keys.Signer | None,
    system: str,
    model: str,
    build: Build,
) -> Release:
    """Release the next version of `model` in `system` from `build`; one event records it."""
    if signer is None:
        raise UsageError("this machine does not hold the workspace's signing key")
    if build.commit is not None and not _COMMIT.fullmatch(build.commit):
        raise UsageError(f"commit {build.commit!r} is not a git commit hash (40 or 64 hex digits)")
    entity = _entity(session, model, "model")
    model_key = entity["ref"]
    system_key = queries.system_key(session, system)
    own_system = _system_of(entity)
    if own_system != system_key:
        raise UsageError(f"{model_key} belongs to {own_system or 'no system'}, not {system_key}")
    pods.require_role(session, actor, system_key, CREATOR_ROLE)
    subject = (build.artifact.name, artifact_digest(build.artifact))
    if build.run is not None:
        _check_run(session, build.run, system_key, subject[1])
    version = (
        session.scalar(select(func.max(ReleaseRow.version)).where(ReleaseRow.model == model_key))
        or 0
    ) + 1
    name = f"{model_key}@{version}"
    lineage = _lineage(session, model_key)
    created_at = now()
    provenance = attest.provenance(
        subject,
        external_parameters=_external_parameters(model_key, system_key, build),
        internal_parameters={"keel": __version__},
        dependencies=_dependencies(session, lineage, build),
        builder_id=build.builder,
        invocation_id=name,
        started_on=build.started_on,
        finished_on=build.finished_on,
        byproducts=[
            attest.descriptor(p.name, digest=artifact_digest(p), annotations={"kind": "log"})
            for p in build.logs
        ],
    )
    signed = checkpoints.checkpoint(session, signer)  # the head the events are proven against
    predicate = {
        "release": {"name": name, "model": model_key, "version": version, "system": system_key},
        "createdAt": created_at,
        "createdBy": actor.id,
        "tests": [t.as_dict() for t in build.tests],
        "benchmarks": [b.as_dict() for b in build.benchmarks],
        "evidence": [],  # filled by the pipeline's checks
        "approvals": [],  # filled by `keel release approve`
        "events": _proven_events(session, [model_key, *lineage], signed),
        "checkpoint": {"note": signed.note},
    }
    bundle = attest.sign_bundle([provenance, attest.release(subject, predicate)], signer)
    append(
        session,
        actor,
        [
            Change(
                "pipeline.release.created",
                model_key,
                {
                    "release": name,
                    "artifact": subject[0],
                    "artifactDigest": subject[1],
                    "run": build.run,
                    "statements": attest.statement_digests(bundle),
                },
            )
        ],
    )
    row = ReleaseRow(
        name=name,
        model=model_key,
        version=version,
        system=system_key,
        artifact=subject[0],
        artifact_digest=subject[1],
        created_at=created_at,
        created_by=actor.id,
        bundle=bundle,
        run=build.run,
    )
    session.add(row)
    session.flush()
    return Release.from_row(row)


def reattest(
    session: Session,
    actor: Actor,
    signer: keys.Signer | None,
    release: Release,
    *,
    evidence: list[dict[str, Any]],
    approvals: list[dict[str, Any]],
    action: str,
    details: dict[str, Any],
) -> Release:
    """Sign the release statement again with its evidence and approvals (each entry names
    its event by seq); the provenance envelope is kept as first signed. One event, `action`,
    records the new statements."""
    if signer is None:
        raise UsageError("this machine does not hold the workspace's signing key")
    first_line = release.bundle.splitlines()[0]
    predicate = release.statements()[-1]["predicate"]
    signed = checkpoints.checkpoint(session, signer)
    subjects = [e["subject"] for e in predicate["events"] if e.get("subject")]
    seqs = [item["event"] for item in evidence + approvals]
    predicate.update(
        evidence=[{**e, "event": {"log": GOVERNANCE, "index": e["event"] - 1}} for e in evidence],
        approvals=[{**a, "event": {"log": GOVERNANCE, "index": a["event"] - 1}} for a in approvals],
        events=_proven_events(session, subjects, signed, seqs),
        checkpoint={"note": signed.note},
    )
    subject = (release.artifact, release.artifact_digest)
    second = attest.sign_bundle([attest.release(subject, predicate)], signer)
    bundle = first_line + b"\n" + second
    append(
        session,
        actor,
        [
            Change(
                action,
                release.name,
                {
                    **details,
                    "release": release.name,
                    "statements": attest.statement_digests(bundle),
                },
            )
        ],
    )
    row = session.get(ReleaseRow, release.name)
    row.bundle = bundle
    session.flush()
    return Release.from_row(row)


_VERSION = re.compile(r"[1-9][0-9]{0,8}")


def release_key(ref: str) -> str:
    """The full name of a release typed as `model@N`, `model:ns/name@N` or `name@N`."""
    model, sep, version = ref.rpartition("@")
    # ASCII digits only: str.isdigit() admits superscripts and other scripts' digits, which
    # int() then refuses (a 500) or reads as another release (an alias)
    if not sep or not model or not _VERSION.fullmatch(version):
        raise InputError(f"{ref!r} is not a release: write MODEL@N, e.g. credit-scorer@1")
    return f"{_key(model, 'model')}@{int(version)}"


def get_release(session: Session, ref: str) -> Release:
    """A release by `model@N`, `model:ns/name@N` or `name@N`."""
    name = release_key(ref)
    row = session.get(ReleaseRow, name)
    if row is None:
        raise NotFoundError(f"no release {name}")
    return Release.from_row(row)


def list_releases(session: Session, system: str | None = None) -> list[Release]:
    query = select(ReleaseRow).order_by(ReleaseRow.model, ReleaseRow.version)
    if system:
        query = query.where(ReleaseRow.system == queries.system_key(session, system))
    return [Release.from_row(r) for r in session.scalars(query)]


def trusted_keys(session: Session, pinned: list[note.VerifierKey]) -> list[note.VerifierKey]:
    """The governance keys trusted from `pinned` (the workspace's key file, or keys given
    with --key) and the rotations the log records under checkpoints those keys signed, as
    `keel audit verify` trusts them; never the key table, which store access can write."""
    return audit_log.trusted(session, workspace_name(session), pinned).keys_for(GOVERNANCE)


def verify_file(
    session: Session,
    bundle: bytes,
    *,
    pinned: list[note.VerifierKey],
    artifact: Path | None = None,
    artifact_digest: str | None = None,
) -> attest.Verification:
    """Check a bundle with the keys trusted from `pinned`, then against the live log."""
    lines = bundle.count(b"\n") + 1
    if len(bundle) > attest.MAX_BUNDLE or lines > 2 * attest.MAX_ENVELOPES + 1:
        # refused for its shape alone: no store work for a flood of lines
        return attest.verify_bundle(bundle, pinned or _NO_KEY)
    found = audit_log.trusted(session, workspace_name(session), pinned)
    result = attest.verify_bundle(
        bundle,
        found.keys_for(GOVERNANCE),
        artifact=artifact,
        artifact_digest=artifact_digest,
    )
    if result.ok:  # a bundle that verifies holds a release statement
        _check_signed_in_time(result, found)
    if result.ok:
        _check_live_log(session, result)
    return result


_NO_KEY = [note.VerifierKey("none", bytes(32))]  # a shape check needs a key to be asked


def _check_signed_in_time(result: attest.Verification, found) -> None:
    """The release's checkpoint is signed by a key trusted at its size: a retired key
    signs nothing past the first checkpoint that covers its rotation."""
    cp, signers = note.signed_by(result.release["checkpoint"]["note"], found.keys_for(GOVERNANCE))
    if not any(found.allows(k, GOVERNANCE, cp.size) for k in signers):
        result.problems.append(
            f"the release's checkpoint at size {cp.size} is signed by a key not trusted "
            "at that size (retired before it)"
        )


def _check_live_log(session: Session, result: attest.Verification) -> None:
    """The attested events are still the log's, byte for byte; the stored tree still has the
    signed root; the log grew only by appending; and the log records these statements."""
    predicate = result.release
    conn = session.connection()
    for event in predicate["events"]:
        if not _stored_as(session, event["log"], event["index"], bytes.fromhex(event["leafHash"])):
            result.problems.append(
                f"event {event['log']}#{event['index'] + 1} is not in the live log as attested"
            )
    attested = note.parse_checkpoint(predicate["checkpoint"]["note"].rpartition("\n\n")[0] + "\n")
    log = attested.origin.rsplit("/", 1)[-1]
    latest = checkpoints.latest(session, log)
    if latest is None or latest.size < attested.size:
        result.problems.append(f"the live {log} log is shorter than the attested checkpoint")
        return
    if head(session, log) < latest.size or tree.root(conn, log, latest.size) != latest.root:
        result.problems.append(
            f"the live {log} log no longer matches its signed checkpoint: run `keel audit verify`"
        )
        return
    proof = tree.consistency_proof(conn, log, attested.size, latest.size)
    try:
        merkle.verify_consistency(attested.size, latest.size, proof, attested.root, latest.root)
    except merkle.ProofError as exc:
        result.problems.append(f"the live {log} log does not extend the attested one: {exc}")
        return
    result.checks.append(
        f"the live {log} log at {latest.size} extends the attested one at {attested.size}"
    )
    name = predicate["release"]["name"]
    issued = [
        e
        for subject in (predicate["release"]["model"], name)
        for e in list_events(session, subject=subject)
        if e.details.get("release") == name and "statements" in e.details
    ]
    match = [
        e
        for e in issued
        if e.details["statements"] == result.payload_digests
        and _stored_as(session, e.log, e.seq - 1, merkle.leaf_hash(e.body))
    ]
    if not match:
        result.problems.append(f"the log does not record these statements for {name}")
    else:
        result.checks.append(
            f"the log records these statements for {name} ({match[-1].action}, event #{match[-1].seq})"
        )


def _stored_as(session: Session, log: str, index: int, leaf: bytes) -> bool:
    """The event at `index` is stored, its bytes hash to `leaf`, and the tree holds that leaf."""
    rows = list_events(session, log=log, seq=index + 1)
    if not rows or merkle.leaf_hash(rows[0].body) != leaf:
        return False
    try:
        return tree.fetch(session.connection(), log, [(0, index)])[(0, index)] == leaf
    except WorkspaceError:
        return False


def _key(ref: str, kind: str) -> str:
    try:
        return key_of(ref, default_kind=kind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_run(session: Session, run_id: str, system_key: str, digest: str) -> None:
    """A release rests on a run only if the run built this artifact, did not fail, and
    backs no other release: its evidence is about this build and no other."""
    run = get_run(session, run_id)
    if run.system != system_key:
        raise UsageError(f"run {run_id} is not a run of {system_key}")
    if run.status == "failed":
        raise UsageError(f"run {run_id} failed: its evidence backs no release")
    if digest not in {a.get("digest") for a in run.facts.get("artifacts", [])}:
        raise UsageError(f"run {run_id} did not log this artifact ({digest}): it did not build it")
    backed = session.scalar(select(ReleaseRow.name).where(ReleaseRow.run == run_id))
    if backed is not None:
        raise ConflictError(f"run {run_id} already backs {backed}")


def _entity(session: Session, ref: str, kind: str) -> dict[str, Any]:
    found = get_entity(session, _key(ref, kind))
    if found["entity"]["kind"].lower() != kind:
        raise UsageError(f"{found['ref']} is a {found['entity']['kind']}, not a {kind}")
    return found


def _system_of(entity: dict[str, Any]) -> str | None:
    for relation in entity["relations"]:
        if relation["type"] == "partOf" and relation["target"].startswith("system:"):
            return relation["target"]
    return None


def _lineage(session: Session, model_key: str) -> list[str]:
    """Every existing node upstream of the model, nearest first."""
    return [r.key for r in impact(session, model_key, "up").reached if r.exists]


def _external_parameters(model: str, system: str, build: Build) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model, "system": system}
    if build.parameters:
        params["parameters"] = build.parameters
    if build.commit:
        params["source"] = {"commit": build.commit}
        if build.repository:
            params["source"]["repository"] = build.repository
    return params


def _run_datasets(session: Session, run_id: str | None) -> dict[str, str]:
    """The digests of the datasets a run logged, by their DataSource."""
    if run_id is None:
        return {}
    datasets = get_run(session, run_id).facts.get("datasets", [])
    return {d["source"]: d["digest"] for d in datasets if d.get("source") and d.get("digest")}


def _dependencies(session: Session, lineage: list[str], build: Build) -> list[dict[str, Any]]:
    """The code commit and the lineage as resource descriptors; every DataSource by digest."""
    unknown = sorted(set(build.data) - set(lineage))
    if unknown:
        raise UsageError(f"{unknown[0]} is not upstream of this model in the system map")
    run_pins = _run_datasets(session, build.run)
    deps = []
    if build.commit:
        uri = f"git+{build.repository}" if build.repository else None
        deps.append(attest.descriptor("source", uri=uri, digest=f"gitCommit:{build.commit}"))
    missing = []
    for key in lineage:
        entity = get_entity(session, key)["entity"]
        kind = entity["kind"]
        annotations = entity["metadata"].get("annotations", {})
        pinned = (
            artifact_digest(build.data[key])
            if key in build.data
            else run_pins.get(key) or annotations.get("keel.dev/artifact-digest")
        )
        if kind == "DataSource" and not pinned:
            missing.append(key)
            continue
        extra = {"kind": kind}
        origin = entity.get("spec", {}).get("origin")
        if origin:
            extra["origin"] = origin
        deps.append(attest.descriptor(key, digest=pinned, annotations=extra))
    if missing:
        raise UsageError(
            f"{missing[0]} has no digest: pass the data the model was trained on "
            f"(--data {missing[0]}=PATH)"
        )
    return deps


def _proven_events(
    session: Session, subjects: list[str], signed: checkpoints.Signed, seqs: list[int] = ()
) -> list[dict[str, Any]]:
    """The newest event about each subject, and the events `seqs`, each with its inclusion
    proof at the signed size."""
    conn = session.connection()
    wanted: dict[int, str] = {}
    for subject in subjects:
        found = list_events(session, subject=subject, limit=1)
        if found and found[0].seq <= signed.size:
            wanted.setdefault(found[0].seq, subject)
    for seq in seqs:
        wanted.setdefault(seq, "")
    out = []
    for seq in sorted(wanted):
        (event,) = list_events(session, seq=seq)
        index = seq - 1
        leaf, proof = tree.inclusion_proof(conn, GOVERNANCE, index, signed.size)
        out.append(
            {
                "log": GOVERNANCE,
                "index": index,
                "subject": event.subject,
                "action": event.action,
                "leafHash": leaf.hex(),
                "proof": [h.hex() for h in proof],
            }
        )
    return out
