"""Verifying a log from its stored bytes, in the store or in an export, trusting neither.

    python -m keel.audit.verify [--key VKEY ...] [--since CHECKPOINT ...] DIR

Standard library and `cryptography` only (no SQLAlchemy, no Keel server): the same
`verify_log` checks the store (`keel audit verify`) and an export. It recomputes every leaf
from the stored event bytes (never re-canonicalising them), checks that the events are
numbered 1, 2, 3, ... in order, works out which keys to trust from the pinned ones
(`keel.audit.trust`), checks every checkpoint's signature against those keys, recomputes
the root at every checkpoint's size from the one sequence of leaves (which also proves each
checkpoint extends the one before), checks that the log still extends every checkpoint
seen before (`since`, by a consistency proof), bounds the unsigned tail's age, and names the
first event that does not match: changed, deleted, inserted or reordered. In the store it
also checks the index columns (time, actor, action, subject, op) against the signed bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from keel.audit import merkle, trust
from keel.audit.actions import stored_names
from keel.audit.note import NoteError, VerifierKey, parse_checkpoint, signed_by

EXPORT_FILES = ("events.jsonl", "checkpoints.json", "keys.json", "log.json")
MAX_TAIL_AGE = 60.0  # seconds an event may stay unsigned (the maximum merge delay)
# the events that can introduce a key: key events, and the workspace's first event (which
# introduces the traffic key), stored under its current name or the one it had before
_CREATED = tuple(stored_names("workspace.store.created"))
KEY_EVENT_ACTIONS = (
    b'{"action":"audit.key.',
    *(b'{"action":"%s"' % a.encode() for a in _CREATED),
)


@dataclass
class Result:
    log: str
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    unsigned: int = 0  # events after the last signed checkpoint
    tail_age: float | None = None  # seconds since the oldest unsigned event, as it says
    # (negative when it says a time to come)
    latest: str | None = None  # the newest checkpoint that verified (its signed note)
    trust: trust.Trust | None = None
    notes: list[str] = field(default_factory=list)  # what was checked beyond the basics

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return f"{self.log}: FAILED: {self.problems[0]}"
        tail = "no unsigned tail"
        if self.unsigned:
            age = max(0.0, self.tail_age or 0.0)
            tail = f"unsigned tail of {self.unsigned} events, the oldest {age:.0f} s old"
        extra = "".join(f"; {n}" for n in self.notes)
        return (
            f"{self.log}: verified {self.events} events and {self.checkpoints} signed "
            f"checkpoints; {tail}{extra}"
        )


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


def column_problem(seq: int, body: bytes, columns: dict[str, str]) -> str | None:
    """How an event's index columns disagree with its signed bytes, as one line (or None)."""
    try:
        record = json.loads(body)
        signed = {
            "time": record["time"],
            "actor": record["actor"]["id"],
            "action": record["action"],
            "subject": record["subject"],
            "op": record["op"],
        }
    except (ValueError, KeyError, TypeError):
        return f"event {seq} is changed: its bytes are not an event"
    for name, value in columns.items():
        if signed[name] != value:
            return (
                f"event {seq}'s {name} column says {value!r} but its signed bytes say "
                f"{signed[name]!r}: the index columns were edited"
            )
    return None


def verify_log(
    log: str,
    origin: str,
    events: Iterable[tuple[int, bytes, bool]],
    notes: list[str],
    keys: list[VerifierKey],
    stored_nodes: Iterable[list[tuple[int, int, bytes]]] | None = None,
    expected_events: int | None = None,
    *,
    inherited: list[trust.Grant] = (),
    since: list[str] = (),
    columns: Callable[[int, bytes], str | None] | None = None,
    max_tail_age: float | None = MAX_TAIL_AGE,
    now: float | None = None,
) -> Result:
    """Check a log; `events` are (stored position, canonical bytes, columns agree) in order.

    `keys` are the pinned keys; `inherited` the grants the governance log gave (for another
    log). `stored_nodes` (chunks of every level's rows, in (level, index) order) lets the store check its own
    tree too. `since` are checkpoints seen before, which the log must still extend. "Columns
    agree" is the store's own check that the row's index columns and seq are what its bytes
    say (always false for an export); where it is false, the seq is read from the bytes and
    the columns are checked with `columns(seq, body)`.
    """
    result = Result(log)
    workspace = origin.rpartition("/")[0]
    parsed: list[tuple[int, bytes, str]] = []  # size, root, note
    for note in notes:
        try:
            cp = parse_checkpoint(note.rpartition("\n\n")[0] + "\n")
        except (NoteError, AttributeError) as exc:
            result.problems.append(f"a stored checkpoint is corrupt: {exc}")
            return result
        if cp.origin != origin:
            result.problems.append(f"checkpoint for {cp.origin!r}, not this log ({origin!r})")
            return result
        parsed.append((cp.size, cp.root, note))
    parsed.sort(key=lambda c: c[0])
    for (size, root, _), (after, other, _) in itertools.pairwise(parsed):
        if size == after and root != other:  # two views of one log: a fork
            result.problems.append(f"two checkpoints at size {size} have different roots")
            return result
    signed_size = parsed[-1][0] if parsed else 0
    result.checkpoints = len(parsed)
    leaves: list[bytes] = []
    found_keys: list[tuple[int, bytes]] = []
    suspects: list[tuple[int, bytes]] = []
    first_unsigned: bytes | None = None
    expected = 1
    events = iter(events)
    keep, sha256, tail_at = leaves.append, hashlib.sha256, signed_size + 1  # the hot loop
    for position, body, agree in events:
        if position != expected:
            kind = "deleted" if position > expected else "inserted"
            result.problems.append(
                f"event {expected} is {kind}: the next stored event is at {position}"
            )
            return result
        # Where the columns agree with the bytes, the bytes end in `,"seq":<position>,...`
        # (no string value can hold `,"seq":`): the seq is checked already.
        if not agree:
            seq = _seq_of(body)
            if seq != position:
                result.problems.append(_misplaced(position, seq, events))
                return result
            if columns is not None:
                suspects.append((position, body))
        if body.startswith(KEY_EVENT_ACTIONS):
            found_keys.append((position, body))
        if position == tail_at:
            first_unsigned = body
        keep(sha256(b"\x00" + body).digest())  # merkle.leaf_hash, without the call
        expected += 1
    result.events = len(leaves)
    if expected_events is not None and expected_events != len(leaves):
        result.problems.append(
            f"the log should hold {expected_events} events but holds {len(leaves)}: "
            f"event {min(expected_events, len(leaves)) + 1} is deleted or inserted"
        )
        return result
    if leaves and not parsed:
        result.problems.append("no signed checkpoint covers the log")
        return result
    levels = _levels(leaves)
    if stored_nodes is not None:  # before the checkpoints, so a changed event gets its name
        problem = _compare_nodes(levels, stored_nodes)
        if problem:
            result.problems.append(problem)
            return result

    def matches(size: int) -> bool:
        return size <= len(leaves) and (size == 0 or _root(levels, size) == roots[size])

    roots = {size: root for size, root, _ in parsed}
    pinned = trust.roots(keys, workspace) + list(inherited)
    candidates = list({g.key: None for g in pinned})
    signers: list[tuple[int, list[VerifierKey]]] = []
    if log == trust.GOVERNANCE:
        # the keys key events name are candidates; trust.derive decides which count
        for _, body in found_keys:
            candidates.extend(named_keys(body, workspace))
    for size, _, note in parsed:
        try:
            signers.append((size, signed_by(note, candidates)[1]))
        except NoteError as exc:
            result.problems.append(f"the checkpoint at size {size}: {exc}")
            return result
    if log == trust.GOVERNANCE:
        found = trust.derive(workspace, pinned, key_events(found_keys), signers, matches)
    else:
        found = trust.Trust(pinned)
    result.trust = found
    good = 0  # the size of the last checkpoint that matched
    for size, keys_that_signed in signers:
        if not any(found.allows(k, log, size) for k in keys_that_signed):
            result.problems.append(
                f"the checkpoint at size {size} is not signed by a trusted key "
                "(pin the workspace's key with --key, or run where its key file is)"
            )
            return result
        if size > len(leaves):
            result.problems.append(
                f"event {len(leaves) + 1} is deleted: a checkpoint was signed at "
                f"size {size} but the log holds {len(leaves)} events"
            )
            return result
        if size and _root(levels, size) != roots[size]:
            result.problems.append(
                f"events {good + 1}..{size} do not match the checkpoint signed at "
                f"size {size}: an event among them is changed, deleted, inserted or reordered"
            )
            return result
        good = size
    if found.problems:
        result.problems.append(found.problems[0])
        return result
    for note in since:
        problem = _extends(log, origin, note, levels, len(leaves), candidates, found, result)
        if problem:
            result.problems.append(problem)
            return result
    if columns is not None:
        for position, body in suspects:
            problem = columns(position, body)
            if problem:
                result.problems.append(problem)
                return result
    result.latest = parsed[-1][2] if parsed else None
    result.unsigned = len(leaves) - good
    if result.unsigned and first_unsigned is not None:
        result.tail_age = _age(first_unsigned, now)
        too_old = result.tail_age is None or abs(result.tail_age) > (max_tail_age or 0)
        if max_tail_age is not None and too_old:
            age = (
                "of unknown age"
                if result.tail_age is None
                else f"{result.tail_age:.0f} s old"
                if result.tail_age >= 0
                else f"dated {-result.tail_age:.0f} s in the future"
            )
            result.problems.append(
                f"events {good + 1}..{len(leaves)} are unsigned and the oldest is {age}, "
                f"past the {max_tail_age:.0f} s bound: sign them (`keel audit checkpoint`) "
                "or find who appended them"
            )
    return result


def _misplaced(position: int, seq: int | None, rest: Iterable[tuple]) -> str:
    """Name what happened at `position`, whose bytes say `seq`: deleted, inserted, reordered."""
    if seq is not None and seq < position:
        return f"event {position} is inserted: its bytes repeat seq {seq}, seen before"
    later = [_seq_of(row[1]) for row in rest]
    if position in later:
        return f"event {position} is reordered: event {seq}'s bytes are stored in its place"
    if seq is None:
        return f"event {position} is changed: its bytes have no seq"
    return f"event {position} is deleted: the next stored event says seq {seq}"


def named_keys(body: bytes, workspace: str) -> list[VerifierKey]:
    try:
        details = json.loads(body)["details"]
        details = details.get("introduces", details)
        log = details.get("log", trust.GOVERNANCE)
        name = trust.key_name(workspace, log)
        entries = [details[k] for k in ("key", "old", "new") if k in details]
        return [VerifierKey(e.get("name") or name, bytes.fromhex(e["public_key"])) for e in entries]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []  # trust.derive names the malformed event


def key_events(found: list[tuple[int, bytes]]) -> list[trust.KeyEvent]:
    out = []
    for seq, body in found:
        try:
            record = json.loads(body)
        except ValueError:
            continue
        details = record.get("details")
        if not isinstance(details, dict):
            continue
        if record.get("action") in trust.KEY_ACTIONS:
            out.append(trust.KeyEvent(seq, record["action"], details))
        elif record.get("action") in _CREATED and "introduces" in details:
            out.append(trust.KeyEvent(seq, trust.INTRODUCED, details["introduces"]))
    return out


def _extends(
    log: str,
    origin: str,
    note: str,
    levels: list[list[bytes]],
    size: int,
    candidates: list[VerifierKey],
    found: trust.Trust,
    result: Result,
) -> str | None:
    """Whether the log still extends a checkpoint seen before (a consistency proof)."""
    try:
        cp, signers = signed_by(note, candidates)
    except NoteError as exc:
        return f"the checkpoint seen before is not a valid signed note: {exc}"
    if cp.origin != origin:
        return None  # another log's
    if not any(found.allows(k, log, cp.size) for k in signers):
        return f"the checkpoint seen before (size {cp.size}) is not signed by a trusted key"
    if cp.size > size:
        return (
            f"the log was cut back: it holds {size} events but a checkpoint at size "
            f"{cp.size} was verified before"
        )
    if cp.size == 0 or size == 0:
        return None
    subtree = merkle.subtree_from(lambda level, index: levels[level][index])
    proof = merkle.consistency_proof(cp.size, size, subtree)
    try:
        merkle.verify_consistency(cp.size, size, proof, cp.root, _root(levels, size))
    except merkle.ProofError:
        return (
            f"the log no longer extends the checkpoint at size {cp.size} verified before: "
            f"history up to event {cp.size} was rewritten"
        )
    result.notes.append(f"extends the checkpoint at size {cp.size} seen before")
    return None


def _age(body: bytes, now: float | None) -> float | None:
    try:
        stamp = json.loads(body)["time"]
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return (_time.time() if now is None else now) - moment  # negative: dated in the future


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree's hash, level by level (level 0 = the leaves)."""
    levels = [leaves]
    sha256 = hashlib.sha256
    while len(levels[-1]) > 1:
        below = levels[-1]
        # merkle.node_hash, without the call
        pairs = zip(below[0::2], below[1::2], strict=False)
        levels.append([sha256(b"\x01" + left + right).digest() for left, right in pairs])
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
    levels: list[list[bytes]], chunks: Iterable[list[tuple[int, int, bytes]]]
) -> str | None:
    """The first stored node that differs from the one the events give, as one line.

    `chunks` are lists of (level, index, hash) rows in (level, index) order. A chunk that
    holds the next run of one level is compared as one list (C speed); any other is
    walked row by row, which also names the first problem.
    """
    seen = [0] * len(levels)
    for chunk in chunks:
        level, start, n = chunk[0][0], chunk[0][1], len(chunk)
        if (
            chunk[-1][0] == level < len(levels)
            and start == seen[level]
            and chunk[-1][1] == start + n - 1  # increasing and unique: contiguous
            and [h for _, _, h in chunk] == levels[level][start : start + n]
        ):
            seen[level] += n
            continue
        for level, index, value in chunk:
            if level >= len(levels) or index >= len(levels[level]):
                if level == 0:
                    return f"the stored tree has leaves no event accounts for (leaf {index + 1}): events were deleted"
                return f"the stored tree has a node (level {level}, index {index}) no event accounts for"
            if levels[level][index] != value:
                if level == 0:
                    return f"event {index + 1} is changed: its bytes no longer match its leaf"
                return f"the stored tree node (level {level}, index {index}) is changed"
            seen[level] += 1
    for level in range(len(levels)):
        if seen[level] != len(levels[level]):
            return f"the stored tree lacks nodes at level {level}"
    return None


def verify_export(
    folder: Path,
    trusted: list[VerifierKey] | None = None,
    *,
    since: list[str] = (),
    inherited: list[trust.Grant] = (),
) -> Result:
    """Check one log's export written by `keel audit export`; `trusted` keys replace keys.json."""
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

    def events() -> Iterable[tuple[int, bytes, bool]]:
        with (folder / "events.jsonl").open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.endswith(b"\n"):
                    raise _Truncated(number)
                yield number, line[:-1], False

    try:
        result = verify_log(
            log,
            origin,
            events(),
            notes,
            keys,
            expected_events=count,
            inherited=inherited,
            since=since,
        )
    except _Truncated as exc:
        return Result(log, problems=[f"events.jsonl is truncated at line {exc.args[0]}"])
    if trusted is None and result.ok:
        result.notes.append("keys taken from the export itself, not pinned (give --key)")
    return result


def verify_folder(
    folder: Path, trusted: list[VerifierKey] | None = None, since: list[str] = ()
) -> list[Result]:
    """Check an export of one log, or of several (one subfolder per log, governance first:
    the keys of the other logs are introduced in it)."""
    if (folder / "events.jsonl").exists() or not (folder / trust.GOVERNANCE).is_dir():
        return [verify_export(folder, trusted, since=since)]
    governance = verify_export(folder / trust.GOVERNANCE, trusted, since=since)
    results = [governance]
    inherited = governance.trust.grants if governance.trust else []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != trust.GOVERNANCE):
        results.append(verify_export(sub, trusted, since=since, inherited=inherited))
    return results


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
    since: list[str] = []
    usage = (
        "usage: python -m keel.audit.verify [--key VKEY ...] [--since CHECKPOINT ...] EXPORT_DIR\n"
        "  --key: trust only this verifier key (from `keel audit pubkey`); repeatable\n"
        "  --since: a file holding a checkpoint seen before (a signed note, as `keel audit\n"
        "           checkpoint` prints it); the export must still extend it; repeatable"
    )
    rest: list[str] = []
    while args:
        arg = args.pop(0)
        if arg in ("--key", "--since"):
            if not args:
                print(usage, file=sys.stderr)
                return 2
            value = args.pop(0)
            try:
                if arg == "--key":
                    trusted.append(parse_vkey(value))
                else:
                    since.append(Path(value).read_text())
            except (ValueError, OSError) as exc:
                print(
                    f"error: {arg} {value}: {getattr(exc, 'strerror', None) or exc}",
                    file=sys.stderr,
                )
                return 2
        else:
            rest.append(arg)
    if len(rest) != 1 or rest[0] in ("-h", "--help"):
        print(usage, file=sys.stderr)
        return 2
    folder = Path(rest[0])
    if not folder.is_dir():
        print(f"error: {folder}: no such folder", file=sys.stderr)
        return 2
    results = verify_folder(folder, trusted or None, since)
    origins = {r.log for r in results}
    for note in since:  # a checkpoint of no exported log checks nothing: say so
        origin = note.split("\n", 1)[0]
        if not any(origin.endswith("/" + log) for log in origins):
            print(f"error: --since names {origin!r}, which is not in this export", file=sys.stderr)
            return 2
    for result in results:
        print(result.summary())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
