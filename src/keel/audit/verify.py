"""Verifying a log from its stored bytes, in the store or in an export, trusting neither.

    python -m keel.audit.verify DIR      checks an export (`keel audit export DIR`)

Standard library and `cryptography` only (no SQLAlchemy, no Keel server): the same
`verify_log` checks the store (`keel audit verify`) and an export. It recomputes every leaf
from the stored event bytes (never re-canonicalising them), checks that the events are
numbered 1, 2, 3, ... in order, checks every checkpoint's signature against the key
history, recomputes the root at every checkpoint's size from the one sequence of leaves
(which also proves each checkpoint extends the one before), and names the first event that
does not match: changed, deleted, inserted or reordered.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keel.audit import merkle
from keel.audit.note import NoteError, VerifierKey, open_note

EXPORT_FILES = ("events.jsonl", "checkpoints.json", "keys.json", "log.json")


@dataclass
class Result:
    log: str
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    unsigned: int = 0  # events after the last signed checkpoint

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return f"{self.log}: FAILED: {self.problems[0]}"
        tail = f"; the last {self.unsigned} not yet signed" if self.unsigned else ""
        return f"{self.log}: verified {self.events} events and {self.checkpoints} signed checkpoints{tail}"


def _seq_of(body: bytes) -> int | None:
    """The top-level `seq` of canonical event bytes, without parsing them all.

    Keys are sorted, and the only keys after `seq` are `subject`, `time` and `v`, whose
    values cannot hold an unescaped quote: so the last `,"seq":` is the top-level one.
    """
    at = body.rfind(b',"seq":')
    if at < 0:
        return None
    end = body.find(b",", at + 7)
    try:
        return int(body[at + 7 : end])
    except ValueError:
        return None


def verify_log(
    log: str,
    origin: str,
    events: Iterable[tuple[int, bytes]],
    notes: list[str],
    keys: list[VerifierKey],
    stored_nodes: Iterable[tuple[int, int, bytes]] | None = None,
    expected_events: int | None = None,
) -> Result:
    """Check a log; `events` are (stored position, canonical bytes) in stored order.

    `stored_nodes` (every level, in (level, index) order) lets the store check its own tree
    too: every stored node must be the one the events give.
    """
    result = Result(log)
    checkpoints: list[tuple[int, bytes]] = []
    for note in notes:
        try:
            cp = open_note(note, keys)
        except NoteError as exc:
            result.problems.append(f"checkpoint: {exc}")
            return result
        if cp.origin != origin:
            result.problems.append(f"checkpoint for {cp.origin!r}, not this log ({origin!r})")
            return result
        checkpoints.append((cp.size, cp.root))
    checkpoints.sort()
    result.checkpoints = len(checkpoints)
    leaves: list[bytes] = []
    expected = 1
    for position, body in events:
        seq = _seq_of(body)
        if position != expected:
            kind = "deleted" if position > expected else "inserted"
            result.problems.append(
                f"event {expected} is {kind}: the next stored event is at {position}"
            )
            return result
        if seq != position:
            result.problems.append(
                f"event {position} is reordered or inserted: its bytes say seq {seq}"
            )
            return result
        leaves.append(merkle.leaf_hash(body))
        expected += 1
    result.events = len(leaves)
    if expected_events is not None and expected_events != len(leaves):
        result.problems.append(
            f"the log should hold {expected_events} events but holds {len(leaves)}: "
            f"event {min(expected_events, len(leaves)) + 1} is deleted or inserted"
        )
        return result
    if leaves and not checkpoints:
        result.problems.append("no signed checkpoint covers the log")
        return result
    levels = _levels(leaves)
    if stored_nodes is not None:  # before the checkpoints, so a changed event gets its name
        problem = _compare_nodes(levels, stored_nodes)
        if problem:
            result.problems.append(problem)
            return result
    good = 0  # the size of the last checkpoint that matched
    for size, root in checkpoints:
        if size > len(leaves):
            result.problems.append(
                f"event {len(leaves) + 1} is deleted: a checkpoint was signed at "
                f"size {size} but the log holds {len(leaves)} events"
            )
            return result
        if size and _root(levels, size) != root:
            result.problems.append(
                f"events {good + 1}..{size} do not match the checkpoint signed at "
                f"size {size}: an event among them is changed, deleted, inserted or reordered"
            )
            return result
        good = size
    result.unsigned = len(leaves) - good
    return result


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree's hash, level by level (level 0 = the leaves)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        )
    return levels


def _root(levels: list[list[bytes]], size: int) -> bytes:
    """The root at `size` from the complete subtrees covering it (right to left)."""
    edge, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            edge.append(levels[level][start >> level])
            start += 1 << level
    h = edge[-1]
    for left in reversed(edge[:-1]):
        h = merkle.node_hash(left, h)
    return h


def _compare_nodes(
    levels: list[list[bytes]], stored: Iterable[tuple[int, int, bytes]]
) -> str | None:
    """The first stored node that differs from the one the events give, as one line."""
    seen = [0] * len(levels)
    for level, index, value in stored:
        if level >= len(levels) or index >= len(levels[level]):
            if level == 0:
                return f"the stored tree has leaves no event accounts for (leaf {index + 1}): events were deleted"
            return (
                f"the stored tree has a node (level {level}, index {index}) no event accounts for"
            )
        if levels[level][index] != value:
            if level == 0:
                return f"event {index + 1} is changed: its bytes no longer match its leaf"
            return f"the stored tree node (level {level}, index {index}) is changed"
        seen[level] += 1
    for level in range(len(levels)):
        if seen[level] != len(levels[level]):
            return f"the stored tree lacks nodes at level {level}"
    return None


def verify_export(folder: Path, trusted: list[VerifierKey] | None = None) -> Result:
    """Check an export written by `keel audit export`; `trusted` keys replace keys.json."""
    missing = [name for name in EXPORT_FILES if not (folder / name).is_file()]
    if missing:
        return Result(
            "?", problems=[f"{folder} is not an audit export: {', '.join(missing)} missing"]
        )
    try:
        meta = json.loads((folder / "log.json").read_text())
        notes = [c["note"] for c in json.loads((folder / "checkpoints.json").read_text())]
        keys = (
            trusted
            if trusted is not None
            else [
                VerifierKey(k["name"], bytes.fromhex(k["public_key"]))
                for k in json.loads((folder / "keys.json").read_text())
            ]
        )
        log, origin, count = meta["log"], meta["origin"], meta["events"]
        if not all(isinstance(n, str) for n in notes) or not isinstance(count, int):
            raise TypeError("checkpoints must be notes (text) and events a count")
        if not all(isinstance(k.name, str) and len(k.public_key) == 32 for k in keys):
            raise TypeError("every key needs a name and a 32-byte public key")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return Result("?", problems=[f"{folder}: malformed export: {exc}"])

    def events() -> Iterable[tuple[int, bytes]]:
        with (folder / "events.jsonl").open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.endswith(b"\n"):
                    raise _Truncated(number)
                yield number, line[:-1]

    try:
        return verify_log(log, origin, events(), notes, keys, expected_events=count)
    except _Truncated as exc:
        return Result(log, problems=[f"events.jsonl is truncated at line {exc.args[0]}"])


def parse_vkey(text: str) -> VerifierKey:
    """A C2SP verifier key `name+hash+base64(0x01 || public key)` (as `keel audit pubkey` prints)."""
    import base64

    name, _, rest = text.strip().partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except ValueError:
        raise ValueError(f"{text!r} is not a verifier key (name+hash+base64)") from None
    if not name or len(raw) != 33 or raw[:1] != b"\x01":
        raise ValueError(f"{text!r} is not an Ed25519 verifier key")
    key = VerifierKey(name, raw[1:])
    if key.key_hash.hex() != hash_hex:
        raise ValueError(f"{text!r}: the key hash does not match the key")
    return key


class _Truncated(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    trusted: list[VerifierKey] = []
    while "--key" in args:  # pin the keys to trust instead of the export's own keys.json
        at = args.index("--key")
        if at + 1 >= len(args):
            args = ["--help"]
            break
        try:
            trusted.append(parse_vkey(args[at + 1]))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        del args[at : at + 2]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(
            "usage: python -m keel.audit.verify [--key VKEY ...] EXPORT_DIR\n"
            "  --key: trust only this verifier key (from `keel audit pubkey`); repeatable",
            file=sys.stderr,
        )
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        print(f"error: {folder}: no such folder", file=sys.stderr)
        return 2
    result = verify_export(folder, trusted or None)
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
