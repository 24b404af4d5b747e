"""DSSE and in-toto against the specification's vectors and the Go implementation's cases."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from keel.audit import dsse, intoto
from tests.conftest import VECTORS

INTOTO = VECTORS / "intoto"


def vectors():
    return json.loads((INTOTO / "dsse" / "dsse_spec_test_vectors.json").read_text())


@pytest.mark.parametrize("case", vectors()["pae_vectors"], ids=lambda c: c["from"][:40])
def test_pae_vectors(case):
    assert dsse.pae(case["payloadType"], case["payload_utf8"].encode()) == case["pae_utf8"].encode()


def test_the_spec_signing_vector_verifies_and_a_changed_payload_does_not():
    vector = vectors()["signing_vector"]
    key = serialization.load_pem_public_key(vector["public_key_pem"].encode())
    envelope = vector["expected_envelope"]
    envelope = envelope if isinstance(envelope, dict) else json.loads(envelope.replace("'", '"'))
    keyid = envelope["signatures"][0].get("keyid") or ""
    kind, payload = dsse.open_envelope(envelope, {keyid: key})
    assert (kind, payload) == (vector["payloadType"], vector["payload_utf8"].encode())
    forged = {**envelope, "payload": base64.b64encode(b"hello world!").decode()}
    with pytest.raises(dsse.DsseError):
        dsse.open_envelope(forged, {keyid: key})


@given(st.binary(max_size=200), st.text(min_size=1, max_size=40), st.integers(0, 511))
def test_ed25519_round_trip_and_any_bit_flip_fails(payload, kind, bit):
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(payload, kind, key, "k1")
    assert dsse.open_envelope(envelope, {"k1": key.public_key()}) == (kind, payload)
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[bit // 8] ^= 1 << (bit % 8)
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    with pytest.raises(dsse.DsseError):
        dsse.open_envelope(envelope, {"k1": key.public_key()})


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"payloadType": "x"},
        {"payloadType": "x", "payload": "!!", "signatures": [{"sig": "AA=="}]},
        {"payloadType": "x", "payload": "", "signatures": []},
    ],
)
def test_malformed_envelopes_are_one_clear_error(bad):
    with pytest.raises(dsse.DsseError):
        dsse.open_envelope(bad, {})


def go_cases():
    return json.loads((INTOTO / "intoto_go_test_json_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", go_cases(), ids=lambda c: f"{c['test']}-{c['expected']}")
def test_go_validation_cases(case):
    name = case["file"]
    check = (
        intoto.validate_provenance_v1
        if "provenance" in name
        else intoto.validate_resource_descriptor
        if "resource_descriptor" in name
        else intoto.validate_statement
    )
    if case["expected"] == "valid":
        check(case["json"])
        return
    with pytest.raises(intoto.StatementError) as info:
        check(case["json"])
    if ":" in case["expected"]:
        assert info.value.code == case["expected"].split(":", 1)[1]


def test_keel_statements_validate():
    data = intoto.statement(
        [("credit-scorer.skops", "sha256:" + "ab" * 32)],
        "https://keel.dev/attestation/release/v1",
        {"approvals": []},
    )
    assert data["subject"][0]["digest"] == {"sha256": "ab" * 32}
    with pytest.raises(intoto.StatementError):
        intoto.statement([("m", "sha256:abc")], "x", {})


def test_keel_envelopes_verify_with_securesystemslib():
    """The reference Python library accepts what Keel signs, and refuses a forged payload."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey

    key = Ed25519PrivateKey.generate()
    reference_key = SSlibKey.from_crypto(key.public_key())
    statement = intoto.statement(
        [("model.skops", "sha256:" + "cd" * 32)],
        intoto.SLSA_PROVENANCE_V1,
        {
            "buildDefinition": {
                "buildType": "https://keel.dev/build/v1",
                "externalParameters": {"seed": 7},
            },
            "runDetails": {"builder": {"id": "https://keel.dev/local-runner"}},
        },
    )
    payload = json.dumps(statement, sort_keys=True).encode()
    envelope = dsse.sign(payload, intoto.PAYLOAD_TYPE, key, reference_key.keyid)
    # from_dict rewrites the dicts it is given, so each gets its own copy
    parsed = Envelope.from_dict(json.loads(json.dumps(envelope)))
    assert reference_key.keyid in parsed.verify([reference_key], 1)
    forged = json.loads(json.dumps(envelope))
    forged["payload"] = base64.b64encode(payload + b" ").decode()
    forged = Envelope.from_dict(forged)
    with pytest.raises(VerificationError):
        forged.verify([reference_key], 1)
