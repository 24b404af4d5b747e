"""C2SP tlog-checkpoint bodies in C2SP signed notes, signed and checked with Ed25519.

    <origin>\\n<tree size>\\n<base64 root hash>\\n      the checkpoint (the signed text)
    \\n
    — <key name> <base64(key hash[4] || signature[64])>\\n   one line per signature

The key hash is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key),
0x01 marking Ed25519. Standard library and `cryptography` only: the offline verifier uses it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"
ED25519 = b"\x01"


class NoteError(ValueError):
    """A checkpoint or signed note that is malformed or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: bytes  # raw 32 bytes

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def sign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    body = checkpoint.text()
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(body.encode())
    stamp = base64.b64encode(key_hash(name, public) + signature).decode()
    return f"{body}\n{DASH} {name} {stamp}\n"


def cosign(note: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """`note` with one more signature line, over the same checkpoint (a key rotation's
    checkpoint carries both the old key's signature and the new one's)."""
    body = note.rpartition("\n\n")[0] + "\n"
    public = private_key.public_key().public_bytes_raw()
    stamp = base64.b64encode(key_hash(name, public) + private_key.sign(body.encode())).decode()
    return f"{note}{DASH} {name} {stamp}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is three or more lines, each ending in a newline")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not text.isascii() or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a checkpoint is printable ASCII")
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("malformed checkpoint origin or size")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise NoteError("the root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def open_note(note: str, keys: list[VerifierKey]) -> Checkpoint:
    """The checkpoint of a signed note, if a known key signed it; raises NoteError otherwise."""
    checkpoint, signers = signed_by(note, keys)
    if not signers:
        raise NoteError("no signature by a known key")
    return checkpoint


def signed_by(note: str, keys: list[VerifierKey]) -> tuple[Checkpoint, list[VerifierKey]]:
    """The checkpoint of a signed note and which of `keys` signed it (maybe none).

    Raises NoteError for a malformed note or a signature by one of `keys` that does not
    verify; signatures by other keys are not ours to judge and are skipped.
    """
    if not isinstance(note, str):
        raise NoteError("a signed note is text")
    body, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    body += "\n"
    checkpoint = parse_checkpoint(body)
    by_hash = {(k.name, k.key_hash): k for k in keys}
    signers: list[VerifierKey] = []
    for line in signatures[:-1].split("\n"):
        prefix = f"{DASH} "
        if not line.startswith(prefix) or line.count(" ") != 2:
            raise NoteError(f"malformed signature line {line[:60]!r}")
        _, name, stamp = line.split(" ")
        try:
            raw = base64.b64decode(stamp, validate=True)
        except ValueError:
            raise NoteError("a signature is not base64") from None
        key = by_hash.get((name, raw[:4]))
        if key is None:
            continue
        if len(raw) != 68:
            raise NoteError(f"the signature by {name} is not an Ed25519 signature")
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[4:], body.encode())
        except (InvalidSignature, ValueError):
            raise NoteError(f"the signature by {name} does not verify") from None
        signers.append(key)
    return checkpoint, signers
