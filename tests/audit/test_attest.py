"""Release attestation bundles, checked with no store: signatures, subject, checkpoint, proofs.

The bundles here are built over an in-memory log (`merkle.MemoryTree`) and a throwaway key,
so every way a bundle can be wrong is tried without a workspace; the store side is in
tests/pipeline/test_releases.py.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.audit import attest, dsse, intoto, keys, merkle, note
from keel.audit.artifacts import artifact_digest
from keel.audit.canonical import canonical_bytes
from tests.conftest import VECTORS

INTOTO = VECTORS / "intoto"
ORIGIN = "keel.dev/test/governance"


def _signer(name="keel.dev/test") -> keys.Signer:
    return keys.Signer(name, Ed25519PrivateKey.generate())


def _vkey(signer: keys.Signer) -> note.VerifierKey:
    return note.VerifierKey(signer.name, signer.public_key)


def _predicate(signer, log: merkle.MemoryTree, indexes, *, approvals=()):
    size = log.size
    checkpoint = note.sign(
        note.Checkpoint(ORIGIN, size, log.root()), signer.name, signer.private_key
    )
    events = [
        {
            "log": "governance",
            "index": i,
            "leafHash": log.subtree(i, i + 1).hex(),
            "proof": [h.hex() for h in merkle.inclusion_proof(i, size, log.subtree)],
        }
        for i in indexes
    ]
    return {
        "release": {
            "name": "model:default/m@1",
            "model": "model:default/m",
            "version": 1,
            "system": "system:default/s",
        },
        "createdAt": "2026-11-25T10:00:00.000001Z",
        "createdBy": "user:default/ana",
        "tests": [
            {
                "name": "unit",
                "passed": 3,
                "failed": 0,
                "errors": 0,
                "skipped": 1,
                "log": {"name": "junit.xml", "digest": "sha256:" + "0" * 64},
            }
        ],
        "benchmarks": [{"name": "auc", "value": 0.8}],
        "evidence": [],
        "approvals": list(approvals),
        "events": events,
        "checkpoint": {"note": checkpoint},
    }


@pytest.fixture
def log() -> merkle.MemoryTree:
    return merkle.MemoryTree([canonical_bytes({"seq": i}) for i in range(1, 12)])


@pytest.fixture
def artifact(tmp_path) -> Path:
    path = tmp_path / "model.skops"
    path.write_bytes(b"model weights " * 100)
    return path


def _bundle(signer, log, artifact, *, predicate=None, subject_of=None) -> bytes:
    subject = (artifact.name, artifact_digest(artifact))
    statements = [
        attest.provenance(
            subject_of or subject,
            external_parameters={"model": "model:default/m"},
            dependencies=[attest.descriptor("datasource:default/d", digest="sha256:" + "a" * 64)],
            builder_id="https://keel.dev/builders/test/v1",
            invocation_id="model:default/m@1",
        ),
        attest.release(subject, predicate or _predicate(signer, log, [0, 5, 10])),
    ]
    return attest.sign_bundle(statements, signer)


def test_a_bundle_verifies_offline_with_its_key_and_artifact(log, artifact):
    signer = _signer()
    result = attest.verify_bundle(
        _bundle(signer, log, artifact), [_vkey(signer)], artifact=artifact
    )
    assert result.ok, result.problems
    assert result.release["release"]["name"] == "model:default/m@1"
    assert [s["predicateType"] for s in result.statements] == [
        intoto.SLSA_PROVENANCE_V1,
        attest.RELEASE_V1,
    ]
    assert "3 events are in the log at 11" in result.checks


def test_another_key_another_artifact_or_no_key_is_refused(log, artifact, tmp_path):
    signer = _signer()
    bundle = _bundle(signer, log, artifact)
    other = _signer()
    assert (
        "no signature by a trusted key" in attest.verify_bundle(bundle, [_vkey(other)]).problems[0]
    )
    assert not attest.verify_bundle(bundle, []).ok
    changed = tmp_path / "model.skops.changed"
    changed.write_bytes(artifact.read_bytes() + b"!")
    result = attest.verify_bundle(bundle, [_vkey(signer)], artifact=changed)
    assert not result.ok and "not the attested subject" in result.problems[0]


def test_a_bundle_is_one_provenance_and_one_release_statement_of_one_release(log, artifact):
    signer = _signer()
    provenance, release = _bundle(signer, log, artifact).splitlines()
    for lines in ([provenance], [release], [provenance, provenance, release]):
        result = attest.verify_bundle(b"\n".join(lines), [_vkey(signer)])
        assert "one SLSA provenance and one Keel release statement" in result.problems[0]
    other = _predicate(signer, log, [0])
    other["release"].update(name="model:default/m@2", version=2)
    foreign = _bundle(signer, log, artifact, predicate=other).splitlines()[1]
    result = attest.verify_bundle(provenance + b"\n" + foreign, [_vkey(signer)])
    assert result.problems == ["the provenance and the release statement name different releases"]


@pytest.mark.parametrize(
    "line",
    [
        b'{"payload": "e30=", "payloadType": "x", "signatures": [{"keyid": [1], "sig": "AA=="}]}',
        b'{"payload": "e30=", "payloadType": "x", "signatures": [{"keyid": {}, "sig": "AA=="}]}',
        b"[" * 100_000,
    ],
)
def test_hostile_envelopes_are_refused_not_crashed(line):
    result = attest.verify_bundle(line + b"\n", [_vkey(_signer())])
    assert not result.ok and result.problems[0].startswith("envelope 1: ")


def test_statements_about_different_subjects_are_refused(log, artifact):
    signer = _signer()
    bundle = _bundle(signer, log, artifact, subject_of=("other", "sha256:" + "b" * 64))
    result = attest.verify_bundle(bundle, [_vkey(signer)])
    assert result.problems == ["the statements are not about the same subject"]


def test_a_signed_but_wrong_proof_or_checkpoint_is_caught(log, artifact):
    """The signer cannot vouch for what the log does not hold: proofs are checked, not trusted."""
    signer = _signer()
    predicate = _predicate(signer, log, [3])
    predicate["events"][0]["leafHash"] = merkle.leaf_hash(b"not in the log").hex()
    result = attest.verify_bundle(
        _bundle(signer, log, artifact, predicate=predicate), [_vkey(signer)]
    )
    assert "event governance#4" in result.problems[0]

    predicate = _predicate(signer, log, [3])
    predicate["checkpoint"]["note"] = predicate["checkpoint"]["note"].replace("\n11\n", "\n12\n")
    result = attest.verify_bundle(
        _bundle(signer, log, artifact, predicate=predicate), [_vkey(signer)]
    )
    assert "does not verify" in result.problems[0]


def test_approvals_must_rest_on_proven_events(log, artifact):
    signer = _signer()
    approval = {
        "approver": "user:default/dara",
        "role": "riskLead",
        "time": "2026-11-25T10:00:00Z",
        "evidence": [],
        "event": {"log": "governance", "index": 7},
    }
    predicate = _predicate(signer, log, [0], approvals=[approval])
    result = attest.verify_bundle(
        _bundle(signer, log, artifact, predicate=predicate), [_vkey(signer)]
    )
    assert result.problems == ["approvals rests on event governance#8, unproven"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.pop("checkpoint"), "(the predicate)"),
        (lambda p: p["release"].update(version=0), "release/version"),
        (lambda p: p["release"].update(name="m@1"), "release/name"),
        (lambda p: p["events"][0].update(leafHash="XYZ"), "events/0/leafHash"),
        (lambda p: p["benchmarks"].append({"name": "x", "value": "fast"}), "benchmarks/1/value"),
        (lambda p: p.update(createdAt="yesterday"), "createdAt"),
        (lambda p: p.update(extra=1), "(the predicate)"),
    ],
)
def test_the_release_schema_names_the_first_violation(log, change, where):
    predicate = _predicate(_signer(), log, [0])
    change(predicate)
    with pytest.raises(attest.AttestationError) as info:
        attest.validate_release(predicate)
    assert str(info.value).startswith(f"release predicate {where}: ")


def test_the_schema_in_the_repo_is_a_valid_2020_12_schema():
    from jsonschema import Draft202012Validator

    schema = json.loads(attest.SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == attest.RELEASE_V1


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"not json\n", b"[]\n", b'{"payloadType": 1}\n', b"\xff\xfe\n"],
)
def test_garbage_is_a_clear_refusal_never_a_crash(data):
    result = attest.verify_bundle(data, [_vkey(_signer())])
    assert not result.ok and result.problems


def test_a_bundle_of_another_payload_type_is_refused(artifact):
    signer = _signer()
    envelope = dsse.sign(b"{}", "text/plain", signer.private_key, signer.key_id)
    result = attest.verify_bundle(canonical_bytes(envelope), [_vkey(signer)])
    assert "payloadType is 'text/plain'" in result.problems[0]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_bit_flip_is_refused_or_changes_nothing_signed(log, artifact, data):
    """A flipped bit fails verification, unless it leaves every signed byte as it was
    (base64 ignores the unused low bits of its last character)."""
    signer = _signer()
    bundle = _bundle(signer, log, artifact)
    lines = bundle.split(b"\n")
    which = data.draw(st.integers(0, 1))
    line = bytearray(lines[which])
    at = data.draw(st.integers(0, len(line) - 1))
    line[at] ^= 1 << data.draw(st.integers(0, 7))
    lines[which] = bytes(line)
    result = attest.verify_bundle(b"\n".join(lines), [_vkey(signer)], artifact=artifact)
    if result.ok:
        original = [json.loads(x) for x in bundle.split(b"\n") if x]
        flipped = json.loads(lines[which])
        assert dsse.payload_of(flipped) == dsse.payload_of(original[which])
        assert base64.b64decode(flipped["signatures"][0]["sig"]) == base64.b64decode(
            original[which]["signatures"][0]["sig"]
        )


def test_keel_bundles_verify_with_securesystemslib(log, artifact):
    """The reference implementation accepts each envelope Keel signs."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    signer = _signer()
    reference_key = SSlibKey(
        signer.key_id, "ed25519", "ed25519", {"public": signer.public_key.hex()}
    )
    for line in _bundle(signer, log, artifact).splitlines():
        envelope = Envelope.from_dict(json.loads(line))
        assert signer.key_id in envelope.verify([reference_key], 1)
        statement = json.loads(envelope.pae().split(b" ", 4)[4])
        intoto.validate_statement(statement)


# The in-toto examples: read or rejected as their expectations say.


def _placeholder_digests(statement: dict) -> bool:
    """The spec's examples abbreviate digests ("4faeb1b2..."): not valid digests."""
    return any("..." in v for s in statement.get("subject", []) for v in s["digest"].values())


@pytest.mark.parametrize(
    "path",
    sorted((INTOTO / "statements").glob("*.json"))
    + sorted((INTOTO / "slsa_provenance").glob("*.json")),
    ids=lambda p: p.name,
)
def test_the_intoto_and_slsa_examples(path):
    statement = json.loads(path.read_text())
    draft = statement.get("_type") != intoto.STATEMENT_V1  # pre-1.0 drafts of the SLSA repo
    if draft or _placeholder_digests(statement):
        with pytest.raises(intoto.StatementError) as info:
            intoto.validate_statement(statement)
        expected = "ErrInvalidStatementType" if draft else "ErrInvalidDigestEncoding"
        assert info.value.code == expected
    else:
        intoto.validate_statement(statement)


def _real_envelopes():
    summary = json.loads((INTOTO / "dsse" / "real_envelopes_summary.json").read_text())
    return summary["envelopes"]


@pytest.mark.parametrize("case", _real_envelopes(), ids=lambda c: Path(c["file"]).name)
def test_real_signed_attestations_open_with_their_certificate_key(case):
    """slsa-verifier's signed attestations (Sigstore bundles and bare DSSE with a Fulcio
    certificate): the DSSE signature checks with the certificate's key, and not with another."""
    record = json.loads((INTOTO / case["file"]).read_text().splitlines()[0])
    if "dsseEnvelope" in record:
        envelope = record["dsseEnvelope"]
        der = base64.b64decode(record["verificationMaterial"]["certificate"]["rawBytes"])
        cert = x509.load_der_x509_certificate(der)
    else:
        envelope = record
        cert = x509.load_pem_x509_certificate(envelope["signatures"][0]["cert"].encode())
    keyid = envelope["signatures"][0].get("keyid", "")
    payload_type, payload = dsse.open_envelope(envelope, {keyid: cert.public_key()})
    statement = json.loads(payload)
    assert payload_type == intoto.PAYLOAD_TYPE
    assert statement["_type"] == case["statement_type"]
    assert statement["predicateType"] == case["predicate_type"]
    assert [s["name"] for s in statement["subject"]] == case["subjects"]
    intoto.validate_statement(statement)
    decoded = (
        INTOTO
        / "slsa_provenance"
        / f"decoded_statement__bcr__{Path(case['file']).name.removeprefix('slsa_verifier__bcr__').removesuffix('.intoto.jsonl')}.json"
    )
    if decoded.exists():
        assert statement == json.loads(decoded.read_text())
    forged = copy.deepcopy(envelope)
    forged["payload"] = base64.b64encode(payload.replace(b'"subject"', b'"Subject"', 1)).decode()
    with pytest.raises(dsse.DsseError):
        dsse.open_envelope(forged, {keyid: cert.public_key()})
