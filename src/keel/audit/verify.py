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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (
                f"{self.log}: verified {self.events} events and {self.checkpoints} "
                "signed checkpoints"
            )
        return f"{self.log}: FAILED: {self.problems[0]}"


class _Range:
    """A compact range over the leaves so far: the root at any size costs O(log n)."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []  # (level, hash), largest first
        self.size = 0

    def push(self, h: bytes) -> None:
        level = 0
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            h = merkle.node_hash(left, h)
            level += 1
        self.stack.append((level, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = merkle.node_hash(left, h)
        return h


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
    stored_leaf: Callable[[int], bytes | None] | None = None,
    consistency: Callable[[int, int], list[bytes]] | None = None,
) -> Result:
    """Check a log; `events` are (stored position, canonical bytes) in stored order."""
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
    pending = list(checkpoints)
    good = 0  # the size of the last checkpoint that matched
    tree = _Range()
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
        leaf = merkle.leaf_hash(body)
        if stored_leaf is not None and stored_leaf(position - 1) not in (None, leaf):
            result.problems.append(
                f"event {position} is changed: its bytes no longer match its leaf"
            )
            return result
        tree.push(leaf)
        expected += 1
        while pending and pending[0][0] == tree.size:
            size, root = pending.pop(0)
            if tree.root() != root:
                result.problems.append(
                    f"events {good + 1}..{size} do not match the checkpoint signed at size {size}: "
                    f"an event among them is changed, deleted, inserted or reordered"
                )
                return result
            good = size
    result.events = tree.size
    if pending:
        result.problems.append(
            f"event {tree.size + 1} is deleted: a checkpoint was signed at size {pending[0][0]} "
            f"but the log holds {tree.size} events"
        )
        return result
    if consistency is not None:
        for (size1, root1), (size2, root2) in pairwise(checkpoints):
            try:
                merkle.verify_consistency(size1, size2, consistency(size1, size2), root1, root2)
            except merkle.ProofError as exc:
                result.problems.append(f"checkpoints {size1} -> {size2}: {exc}")
                return result
    return result


def verify_export(folder: Path) -> Result:
    """Check an export written by `keel audit export`."""
    missing = [name for name in EXPORT_FILES if not (folder / name).is_file()]
    if missing:
        return Result(
            "?", problems=[f"{folder} is not an audit export: {', '.join(missing)} missing"]
        )
    try:
        meta = json.loads((folder / "log.json").read_text())
        notes = [c["note"] for c in json.loads((folder / "checkpoints.json").read_text())]
        keys = [
            VerifierKey(k["name"], bytes.fromhex(k["public_key"]))
            for k in json.loads((folder / "keys.json").read_text())
        ]
        log, origin = meta["log"], meta["origin"]
    except (ValueError, KeyError, TypeError) as exc:
        return Result("?", problems=[f"{folder}: malformed export metadata: {exc}"])

    def events() -> Iterable[tuple[int, bytes]]:
        with (folder / "events.jsonl").open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.endswith(b"\n"):
                    raise _Truncated(number)
                body = line[:-1]
                yield _seq_of(body) or number, body

    try:
        return verify_log(log, origin, events(), notes, keys)
    except _Truncated as exc:
        return Result(log, problems=[f"events.jsonl is truncated at line {exc.args[0]}"])


class _Truncated(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m keel.audit.verify EXPORT_DIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        print(f"error: {folder}: no such folder", file=sys.stderr)
        return 2
    result = verify_export(folder)
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
