"""Release attestations: in-toto Statements in DSSE envelopes, and their offline verification.

A release's attestation bundle is JSON Lines (`.intoto.jsonl`, the form slsa-verifier and
in-toto tools read): one DSSE envelope per statement, every statement about the same
subject, the model artifact by SHA-256 (`keel.audit.artifacts.artifact_digest`):

- SLSA Provenance v1 (`https://slsa.dev/provenance/v1`): how the artifact was built, with
  the code commit, the parameters, the training data by digest, the builder, times and logs;
- the Keel release statement (`https://keel.dev/attestation/release/v1`, JSON Schema in
  `schemas/release-v1.json`): tests, benchmarks, evidence, approvals, and the audit-log
  events the release rests on, each with its inclusion proof against the signed
  checkpoint the statement carries.

`verify_bundle` needs no store and no server, only the trusted public keys: it checks every
signature, the statements' rules, the subject against an artifact, the checkpoint's
signature and every event's inclusion proof. Whether the live log still holds those events
is a question for the store (`keel.pipeline.releases.verify_file`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keel.audit import dsse, intoto, merkle, note
from keel.audit.artifacts import artifact_digest as _artifact_digest
from keel.audit.canonical import canonical_bytes, digest

RELEASE_V1 = "https://keel.dev/attestation/release/v1"
BUILD_TYPE = "https://keel.dev/build/model-training/v1"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "release-v1.json"
MAX_BUNDLE = 1024 * 1024  # a bundle is two envelopes of a few KB each
MAX_ENVELOPES = 4  # more lines than this is not a release bundle: refused before parsing
MAX_PROBLEMS = 5  # checking stops after this many broken envelopes


class AttestationError(ValueError):
    """A release predicate that breaks its schema."""


def descriptor(
    name: str | None = None,
    *,
    uri: str | None = None,
    digest: str | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An in-toto ResourceDescriptor; `digest` is written `algorithm:hex`."""
    rd: dict[str, Any] = {}
    if name:
        rd["name"] = name
    if uri:
        rd["uri"] = uri
    if digest:
        algorithm, _, value = digest.partition(":")
        rd["digest"] = {algorithm: value}
    if annotations:
        rd["annotations"] = annotations
    intoto.validate_resource_descriptor(rd)
    return rd


def provenance(
    subject: tuple[str, str],
    *,
    external_parameters: dict[str, Any],
    dependencies: list[dict[str, Any]],
    builder_id: str,
    internal_parameters: dict[str, Any] | None = None,
    invocation_id: str | None = None,
    started_on: str | None = None,
    finished_on: str | None = None,
    byproducts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A SLSA Provenance v1 statement about `subject` (name, `sha256:<hex>`)."""
    definition: dict[str, Any] = {
        "buildType": BUILD_TYPE,
        "externalParameters": external_parameters,
        "resolvedDependencies": dependencies,
    }
    if internal_parameters:
        definition["internalParameters"] = internal_parameters
    metadata = {
        key: value
        for key, value in (
            ("invocationId", invocation_id),
            ("startedOn", started_on),
            ("finishedOn", finished_on),
        )
        if value
    }
    details: dict[str, Any] = {"builder": {"id": builder_id}}
    if metadata:
        details["metadata"] = metadata
    if byproducts:
        details["byproducts"] = byproducts
    return intoto.statement(
        [subject],
        intoto.SLSA_PROVENANCE_V1,
        {"buildDefinition": definition, "runDetails": details},
    )


def release(subject: tuple[str, str], predicate: dict[str, Any]) -> dict[str, Any]:
    """A Keel release statement; the predicate must satisfy the release v1 schema."""
    validate_release(predicate)
    return intoto.statement([subject], RELEASE_V1, predicate)


@cache
def _release_validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_release(predicate: Any) -> None:
    """Raise AttestationError with the first schema violation, as `path: reason`."""
    errors = sorted(_release_validator().iter_errors(predicate), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(the predicate)"
        raise AttestationError(f"release predicate {where}: {first.message}")


def sign_bundle(statements: list[dict[str, Any]], signer) -> bytes:
    """The statements as DSSE envelopes signed by `signer`, one per line (JSON Lines)."""
    lines = []
    for statement in statements:
        envelope = dsse.sign(
            canonical_bytes(statement), intoto.PAYLOAD_TYPE, signer.private_key, signer.key_id
        )
        lines.append(canonical_bytes(envelope))
    return b"\n".join(lines) + b"\n"


def statement_digests(bundle: bytes) -> list[str]:
    """`sha256:` of each envelope's payload, in order: how the log names a bundle's statements."""
    out = []
    for line in bundle.splitlines():
        if line.strip():
            out.append(digest(dsse.payload_of(json.loads(line))))
    return out


@dataclass
class Verification:
    """What checking a bundle found: `checks` passed, `problems` did not."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    payload_digests: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.statements) and not self.problems

    @property
    def subject(self) -> dict[str, Any] | None:
        return self.statements[0]["subject"][0] if self.statements else None

    @property
    def release(self) -> dict[str, Any] | None:
        """The release predicate, when the bundle has one."""
        for s in self.statements:
            if s["predicateType"] == RELEASE_V1:
                return s["predicate"]
        return None

    def summary(self) -> str:
        if self.ok:
            return f"verified: {len(self.checks)} checks passed"
        return f"NOT verified: {self.problems[0]}" if self.problems else "NOT verified"


def verify_bundle(
    data: bytes,
    keys: list[note.VerifierKey],
    *,
    artifact: Path | None = None,
    artifact_digest: str | None = None,
) -> Verification:
    """Check a bundle with no store: signatures, statements, subject, checkpoint and proofs.

    The subject is checked against `artifact` (hashed here) or an `artifact_digest` given.
    """
    result = Verification()
    trusted = {k.key_hash.hex(): Ed25519PublicKey.from_public_bytes(k.public_key) for k in keys}
    if not trusted:
        result.problems.append("no trusted key to check signatures with")
        return result
    if len(data) > MAX_BUNDLE:
        result.problems.append(f"the bundle is over {MAX_BUNDLE // 2**20} MiB")
        return result
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        result.problems.append("the bundle holds no envelope")
        return result
    if len(lines) > MAX_ENVELOPES:
        result.problems.append(
            f"the bundle holds {len(lines)} lines; a release bundle is 2 envelopes"
        )
        return result
    for number, line in enumerate(lines, start=1):
        if len(result.problems) >= MAX_PROBLEMS:
            break
        try:
            envelope = json.loads(line)
            payload_type, payload = dsse.open_envelope(envelope, trusted)
            if payload_type != intoto.PAYLOAD_TYPE:
                raise dsse.DsseError(f"payloadType is {payload_type!r}, not {intoto.PAYLOAD_TYPE}")
            statement = json.loads(payload)
            intoto.validate_statement(statement)
        except (ValueError, TypeError, RecursionError) as exc:  # JSON, DSSE, statement errors
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            result.problems.append(f"envelope {number}: {reason}")
            continue
        result.statements.append(statement)
        result.payload_digests.append(digest(payload))
        result.checks.append(
            f"envelope {number}: signature verifies ({statement['predicateType']})"
        )
    if result.problems or not _check_shape(result):
        return result
    if artifact is not None:
        _check_subject(result, str(artifact), _artifact_digest(artifact))
    elif artifact_digest is not None:
        _check_subject(result, "the artifact", artifact_digest)
    else:
        _check_subject(result, None, None)
    if result.release is not None:
        _check_release(result, result.release, keys)
    return result


def _check_shape(result: Verification) -> bool:
    """A release bundle is one SLSA provenance and one Keel release statement, about the
    same release: envelopes from different bundles do not combine."""
    kinds = [s["predicateType"] for s in result.statements]
    if sorted(kinds) != sorted([intoto.SLSA_PROVENANCE_V1, RELEASE_V1]):
        result.problems.append(
            "a release bundle holds one SLSA provenance and one Keel release statement, "
            f"not {', '.join(kinds)}"
        )
        return False
    release = result.release.get("release") if isinstance(result.release, dict) else None
    provenance = next(s for s in result.statements if s["predicateType"] != RELEASE_V1)
    definition = provenance["predicate"]["buildDefinition"]
    invocation = provenance["predicate"]["runDetails"].get("metadata", {}).get("invocationId")
    if not isinstance(release, dict) or (
        invocation != release.get("name")
        or definition["externalParameters"].get("model") != release.get("model")
    ):
        result.problems.append("the provenance and the release statement name different releases")
        return False
    return True


def _check_subject(result: Verification, label: str | None, actual: str | None) -> None:
    subjects = {canonical_bytes(s["subject"]) for s in result.statements}
    if len(subjects) != 1:
        result.problems.append("the statements are not about the same subject")
        return
    subject = result.statements[0]["subject"]
    if actual is None:
        return
    algorithm, _, value = actual.partition(":")
    if any(s.get("digest", {}).get(algorithm) == value for s in subject):
        result.checks.append(f"{label} matches the subject ({actual})")
    else:
        result.problems.append(
            f"{label} is {actual}, not the attested subject "
            f"({', '.join(_digest_text(s) for s in subject)})"
        )


def _digest_text(subject: dict[str, Any]) -> str:
    return ", ".join(f"{a}:{v}" for a, v in sorted(subject.get("digest", {}).items()))


def _check_release(result: Verification, predicate: dict[str, Any], keys) -> None:
    try:
        validate_release(predicate)
    except AttestationError as exc:
        result.problems.append(str(exc))
        return
    try:
        checkpoint = note.open_note(predicate["checkpoint"]["note"], keys)
    except note.NoteError as exc:
        result.problems.append(f"the release's checkpoint: {exc}")
        return
    result.checks.append(
        f"the release's checkpoint ({checkpoint.origin} at {checkpoint.size}) is signed"
    )
    for event in predicate["events"]:
        where = f"{event['log']}#{event['index'] + 1}"
        if not checkpoint.origin.endswith("/" + event["log"]):
            result.problems.append(f"event {where} is not in the checkpoint's log")
            continue
        try:
            merkle.verify_inclusion(
                event["index"],
                checkpoint.size,
                bytes.fromhex(event["leafHash"]),
                [bytes.fromhex(h) for h in event["proof"]],
                checkpoint.root,
            )
        except merkle.ProofError as exc:
            result.problems.append(f"event {where}: {exc}")
    listed = {(e["log"], e["index"]) for e in predicate["events"]}
    for section in ("evidence", "approvals"):
        for item in predicate[section]:
            ref = (item["event"]["log"], item["event"]["index"])
            if ref not in listed:
                result.problems.append(f"{section} rests on event {ref[0]}#{ref[1] + 1}, unproven")
    if not result.problems:
        result.checks.append(
            f"{len(predicate['events'])} events are in the log at {checkpoint.size}"
        )
