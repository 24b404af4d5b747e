"""Which signing keys a verifier trusts, derived from keys pinned outside the log (pure).

Trust starts at the pinned keys (the workspace's key file, or `--key`), never at the key
table or an export's keys.json. A key the log introduces (`audit.key.rotated`,
`audit.key.introduced`, both in the governance log) is trusted only when

- a checkpoint signed by an already-trusted key covers the event that introduces it (its
  root, recomputed from the events, matches), and
- the event carries an endorsement: the introducing key's signature over the new key
  (a rotation: the key it retires; a traffic key: a governance key).

Someone who can write the store but holds no key can therefore neither make their own key
trusted (no endorsement) nor slip an endorsed-looking event past an honest signer.

A rotation also vouches for the key it retires, so pinning only the current key file
still trusts the checkpoints signed before the rotation, up to the first checkpoint
covering it. Standard library and `cryptography` only: the offline verifier uses it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keel.audit.note import VerifierKey

GOVERNANCE = "governance"
ROTATED = "audit.key.rotated"
INTRODUCED = "audit.key.introduced"
KEY_ACTIONS = (ROTATED, INTRODUCED)


def key_name(workspace: str, log: str) -> str:
    """The note key name of the key that signs `log`: the workspace's name for governance."""
    return workspace if log == GOVERNANCE else f"{workspace}/{log}"


def _statement(workspace: str, log: str, action: str, new: bytes, old: bytes | None) -> bytes:
    parts = ["keel audit key", workspace, log, action, new.hex(), (old or b"").hex(), ""]
    return "\n".join(parts).encode()


def endorse(
    signer: Ed25519PrivateKey,
    workspace: str,
    log: str,
    action: str,
    new: bytes,
    old: bytes | None = None,
) -> dict[str, str]:
    """The `endorsement` of a key event: `signer`'s signature over what the event says."""
    signature = signer.sign(_statement(workspace, log, action, new, old))
    public = signer.public_key().public_bytes_raw()
    return {"public_key": public.hex(), "signature": base64.b64encode(signature).decode()}


@dataclass(frozen=True)
class Grant:
    """`key` may sign checkpoints of `log` at sizes `start` <= size <= `end`."""

    key: VerifierKey
    log: str
    start: int = 0
    end: int | None = None

    def allows(self, log: str, size: int) -> bool:
        return log == self.log and self.start <= size and (self.end is None or size <= self.end)


@dataclass(frozen=True)
class KeyEvent:
    """A key event as the verifier needs it: its seq and parsed record."""

    seq: int
    action: str
    details: dict


@dataclass
class Trust:
    grants: list[Grant] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # key events no checkpoint covers yet

    def keys_for(self, log: str) -> list[VerifierKey]:
        return list({g.key: None for g in self.grants if g.log == log})

    def allows(self, key: VerifierKey, log: str, size: int) -> bool:
        return any(g.key == key and g.allows(log, size) for g in self.grants)


def roots(pinned: list[VerifierKey], workspace: str) -> list[Grant]:
    """Pinned keys, each for the log its name says (a traffic key can be pinned too)."""
    out = []
    for key in pinned:
        log = GOVERNANCE
        if key.name.startswith(workspace + "/"):
            log = key.name[len(workspace) + 1 :]
        out.append(Grant(key, log))
    return out


def derive(
    workspace: str,
    pinned: list[Grant],
    events: list[KeyEvent],
    checkpoints: list[tuple[int, list[VerifierKey]]],
    matches: Callable[[int], bool],
) -> Trust:
    """Extend `pinned` with the keys the governance log's key events introduce.

    `checkpoints` are (size, keys that validly signed it) of the governance log;
    `matches(size)` says whether the events recompute that checkpoint's root.
    """
    trust = Trust(list(pinned))
    covering = sorted(size for size, _ in checkpoints)
    accepted: set[int] = set()
    changed = True
    while changed:  # a rotation can vouch backwards: repeat until nothing more is trusted
        changed = False
        for event in events:
            if event.seq in accepted or not _covered(trust, event.seq, checkpoints, matches):
                continue
            try:
                new_grants = _grants(workspace, event, trust, covering)
            except (KeyError, TypeError, ValueError) as exc:
                trust.problems.append(f"event {event.seq} ({event.action}) is rejected: {exc}")
                accepted.add(event.seq)
                continue
            if new_grants is None:
                continue
            if event.action == ROTATED:  # the retired key, even a pinned one, stops here
                retired, end = new_grants.pop()
                trust.grants = [
                    Grant(g.key, g.log, g.start, min(end, g.end if g.end is not None else end))
                    if g.key == retired.key and g.log == retired.log
                    else g
                    for g in trust.grants
                ]
                new_grants.append(retired)
            trust.grants.extend(g for g in new_grants if g not in trust.grants)
            accepted.add(event.seq)
            changed = True
    for event in events:
        if event.seq in accepted:
            continue
        if _covered(trust, event.seq, checkpoints, matches):
            trust.problems.append(
                f"event {event.seq} ({event.action}) names a key that no trusted key endorsed: "
                "a forged key"
            )
        else:
            trust.pending.append(event.seq)
    return trust


def _covered(
    trust: Trust,
    seq: int,
    checkpoints: list[tuple[int, list[VerifierKey]]],
    matches: Callable[[int], bool],
) -> bool:
    return any(
        size >= seq and matches(size) and any(trust.allows(k, GOVERNANCE, size) for k in signers)
        for size, signers in checkpoints
    )


def _key(entry: dict, name: str) -> VerifierKey:
    public = bytes.fromhex(entry["public_key"])
    if len(public) != 32:
        raise ValueError("a public key is 32 bytes")
    return VerifierKey(entry.get("name") or name, public)


def _endorsed(workspace: str, event: KeyEvent, log: str, new: bytes, old: bytes | None) -> bytes:
    """The public key whose signature the event's endorsement carries; raises if it fails."""
    endorsement = event.details["endorsement"]
    public = bytes.fromhex(endorsement["public_key"])
    signature = base64.b64decode(endorsement["signature"], validate=True)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            signature, _statement(workspace, log, event.action, new, old)
        )
    except InvalidSignature:
        raise ValueError("its endorsement does not verify") from None
    return public


def _grants(workspace: str, event: KeyEvent, trust: Trust, covering: list[int]) -> list | None:
    """The grants an event adds, or None while nothing trusted vouches for it (yet); for a
    rotation the last entry is (the retired key's grant, the size it ends at)."""
    details = event.details
    log = details.get("log", GOVERNANCE)
    name = key_name(workspace, log)
    # the governance keys trusted at this point of the log (not a retired one past its end)
    trusted = {g.key.public_key for g in trust.grants if g.allows(GOVERNANCE, event.seq)}
    if event.action == INTRODUCED:
        new = _key(details["key"], name)
        if _endorsed(workspace, event, log, new.public_key, None) not in trusted:
            return None
        return [Grant(new, log, start=event.seq)]
    old, new = _key(details["old"], name), _key(details["new"], name)
    endorser = _endorsed(workspace, event, log, new.public_key, old.public_key)
    # the first checkpoint covering the rotation is the last the retired key may sign
    end = next(size for size in covering if size >= event.seq)
    # the last entry is the retired key's grant, with the size it ends at
    retired = (Grant(old, log, end=end), end)
    if log == GOVERNANCE:
        if endorser != old.public_key:
            raise ValueError("a rotation is endorsed by the key it retires")
        if old.public_key in trusted:
            return [Grant(new, log, start=event.seq), retired]
        if new.public_key in trusted:  # the new key vouches for its predecessor
            return [retired]
        return None
    if endorser not in trusted:
        return None
    return [Grant(new, log, start=event.seq), retired]
