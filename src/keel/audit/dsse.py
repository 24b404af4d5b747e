"""DSSE envelopes (the in-toto signing envelope): PAE, signing with the workspace key, checking.

    PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body   (lengths in bytes)

An envelope is `{"payloadType", "payload": base64, "signatures": [{"keyid", "sig": base64}]}`.
Keel signs with Ed25519; checking also accepts ECDSA P-256/SHA-256 (raw r||s or DER), the
algorithm of the DSSE specification's own test vector.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


class DsseError(ValueError):
    """An envelope that is malformed or whose signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign(payload: bytes, payload_type: str, key: Ed25519PrivateKey, keyid: str) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}],
    }


def payload_of(envelope: Any) -> bytes:
    """The payload bytes of an envelope, unchecked: for naming it, never for trusting it."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        raise DsseError("an envelope needs a payload")
    try:
        return base64.b64decode(envelope["payload"], validate=True)
    except binascii.Error:
        raise DsseError("the payload is not base64") from None


def open_envelope(envelope: Any, keys: dict[str, PublicKey]) -> tuple[str, bytes]:
    """(payloadType, payload) if a signature by one of `keys` (by keyid) verifies."""
    if not isinstance(envelope, dict):
        raise DsseError("an envelope is a JSON object")
    payload_type, payload_b64 = envelope.get("payloadType"), envelope.get("payload")
    signatures = envelope.get("signatures")
    if not isinstance(payload_type, str) or not isinstance(payload_b64, str):
        raise DsseError("an envelope needs payloadType and payload")
    if not isinstance(signatures, list) or not signatures:
        raise DsseError("an envelope needs at least one signature")
    try:
        payload = base64.b64decode(payload_b64, validate=True)
    except binascii.Error:
        raise DsseError("the payload is not base64") from None
    message = pae(payload_type, payload)
    for entry in signatures:
        if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
            raise DsseError("a signature entry needs sig")
        keyid = entry.get("keyid")
        if keyid is not None and not isinstance(keyid, str):
            raise DsseError("a signature's keyid is a string")
        candidates = [keys[keyid]] if keyid in keys else ([] if keyid else list(keys.values()))
        try:
            signature = base64.b64decode(entry["sig"], validate=True)
        except binascii.Error:
            raise DsseError("a signature is not base64") from None
        for key in candidates:
            if _verifies(key, signature, message):
                return payload_type, payload
    raise DsseError("no signature by a trusted key verifies")


def _verifies(key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signature, message)
        else:
            if len(signature) == 64:  # raw r||s, as the DSSE test vector encodes it
                signature = encode_dss_signature(
                    int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
                )
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
