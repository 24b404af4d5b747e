"""The Merkle tree of each log, kept in `audit_nodes`: appends, roots and proofs from the store.

Only complete subtrees are stored (level, index), so each is written once and never changes.
Extending the tree needs the nodes of its right edge whose parents the new leaves complete
(about one for a single append; one query); a root or a proof needs O(log n) nodes, fetched
in one query after the pure functions of `merkle` have said which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from keel.audit import merkle
from keel.errors import WorkspaceError
from keel.store import driver

Key = tuple[int, int]  # (level, index)
# A join on a VALUES list: SQLite and PostgreSQL both read it as one primary-key lookup
# per key (an OR of pairs made SQLite scan the table).
_FETCH = (
    "WITH k(level, idx) AS (VALUES {}) SELECT n.level, n.idx, n.hash FROM k "
    "JOIN audit_nodes n ON n.log = ? AND n.level = k.level AND n.idx = k.idx"
)
_CHUNK = 200


def right_edge(size: int) -> list[Key]:
    """The complete subtrees covering leaves [0, size), largest first."""
    keys, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def edge_needed(size: int, count: int) -> list[Key]:
    """The right-edge nodes that appending `count` leaves to a tree of `size` combines with.

    An edge node is needed only if its parent gets completed: for one leaf, one node per
    trailing 1-bit of `size` (none for half of all appends, about one on average).
    """
    keys, level = [], 0
    # the first multiple of 2**level past `size`: once the new leaves stop short of it, no
    # parent at this level or above is completed
    while ((size >> level) + 1) << level <= size + count:
        if size >> level & 1:
            keys.append((level, (size >> level) - 1))
        level += 1
    return keys


def new_nodes(
    size: int, edge: dict[Key, bytes], leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """The nodes that appending `leaf_hashes` to a tree of `size` completes (pure)."""
    known = dict(edge)
    out: list[tuple[int, int, bytes]] = []
    for offset, h in enumerate(leaf_hashes):
        level, index = 0, size + offset
        known[(0, index)] = h
        out.append((0, index, h))
        while index & 1:
            h = merkle.node_hash(known[(level, index - 1)], h)
            level, index = level + 1, index >> 1
            known[(level, index)] = h
            out.append((level, index, h))
    return out


def fetch(conn: Connection, log: str, keys: Iterable[Key]) -> dict[Key, bytes]:
    """The stored nodes at `keys`, in one statement on the driver's cursor (one round trip
    on PostgreSQL; primary-key lookups on both): the hot path of every append and proof."""
    keys = list(dict.fromkeys(keys))
    found: dict[Key, bytes] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        sql = _FETCH.format(", ".join(["(?, ?)"] * len(chunk)))
        params = [x for key in chunk for x in key]
        params.append(log)
        found.update({(lv, ix): bytes(h) for lv, ix, h in driver.fetch_all(conn, sql, params)})
    missing = [k for k in keys if k not in found]
    if missing:
        raise WorkspaceError(
            f"the {log} log's tree lacks node {missing[0]}: run `keel audit verify`"
        )
    return found


NODE_COLUMNS = ["log", "level", "idx", "hash"]


# The log's size and the right-edge nodes an append of `count` leaves combines with
# (`edge_needed`, chosen in SQL), in one prepared statement: one round trip of every append.
_HEAD_WITH_EDGE = """
WITH RECURSIVE h(m) AS (SELECT COALESCE(max(seq), 0) FROM audit_events WHERE log = ?),
lv(l) AS (SELECT 0 UNION ALL SELECT l + 1 FROM lv, h WHERE l < 62 AND (m >> (l + 1)) > 0),
k(level, idx) AS MATERIALIZED (
  SELECT l, (m >> l) - 1 FROM lv, h
  WHERE (m >> l) & 1 = 1 AND (((m >> l) + 1) << l) <= m + CAST(? AS BIGINT)
)
SELECT h.m, n.level, n.idx, n.hash FROM h
LEFT JOIN k ON 1 = 1
LEFT JOIN audit_nodes n ON n.log = ? AND n.level = k.level AND n.idx = k.idx
"""


def head_with_edge(conn: Connection, log: str, count: int) -> tuple[int, dict[Key, bytes]]:
    """The size of `log` and the stored right-edge nodes appending `count` leaves needs."""
    rows = driver.fetch_all(conn, _HEAD_WITH_EDGE, (log, count, log), prepare=True)
    size = rows[0][0]
    edge = {(lv, ix): bytes(h) for _, lv, ix, h in rows if h is not None}
    missing = [k for k in edge_needed(size, count) if k not in edge]
    if missing:
        raise WorkspaceError(
            f"the {log} log's tree lacks node {missing[0]}: run `keel audit verify`"
        )
    return size, edge


def extension(
    log: str, size: int, edge: dict[Key, bytes], leaf_hashes: Sequence[bytes]
) -> list[tuple]:
    """The `audit_nodes` rows (NODE_COLUMNS) that adding leaves to the tree of `log`
    (`size` leaves, `edge` from `head_with_edge`) writes; the caller inserts them."""
    return [(log, lv, ix, h) for lv, ix, h in new_nodes(size, edge, leaf_hashes)]


def _subtree(conn: Connection, log: str, plan) -> merkle.Subtree:
    """Run `plan(subtree)` once to learn which nodes it needs, fetch them, and answer from them."""
    wanted: list[Key] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return merkle.EMPTY_ROOT  # any 32 bytes: only which nodes are asked for matters

    plan(merkle.subtree_from(record))
    nodes = fetch(conn, log, wanted)
    return merkle.subtree_from(lambda lv, ix: nodes[(lv, ix)])


def root(conn: Connection, log: str, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    subtree = _subtree(conn, log, lambda s: s(0, size))
    return subtree(0, size)


def inclusion_proof(conn: Connection, log: str, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """The leaf hash at `index` and its inclusion proof at `size`, from one query."""

    def plan(s: merkle.Subtree) -> tuple[bytes, list[bytes]]:
        return s(index, index + 1), merkle.inclusion_proof(index, size, s)

    return plan(_subtree(conn, log, plan))


# An inclusion proof at the latest checkpoint in one statement (one round trip on PostgreSQL):
# the checkpoint row, and every stored node such a proof can need -- the leaf, its complete
# siblings on the way up, and the tree's right edge (which the incomplete siblings are made
# of) -- chosen in SQL from the checkpoint's size. `a XOR 1` is spelt (a | 1) - (a & 1),
# which both SQLite and PostgreSQL read. Levels stop at the size's highest bit (and 62).
_LATEST_WITH_NODES = """
WITH RECURSIVE p(m) AS (SELECT CAST(? AS BIGINT)),
cp AS (SELECT size, note, time FROM audit_checkpoints WHERE log = ? ORDER BY size DESC LIMIT 1),
lv(l) AS (SELECT 0 UNION ALL SELECT l + 1 FROM lv, cp WHERE l < 62 AND (cp.size >> (l + 1)) > 0),
k(level, idx) AS MATERIALIZED (
  SELECT 0, m FROM p, cp WHERE m < cp.size
  UNION SELECT l, ((m >> l) | 1) - ((m >> l) & 1) FROM lv, p, cp
    WHERE ((m >> l) | 1) - ((m >> l) & 1) < (cp.size >> l)
  UNION SELECT l, (cp.size >> l) - 1 FROM lv, cp WHERE (cp.size >> l) & 1 = 1
)
SELECT cp.size, cp.note, cp.time, n.level, n.idx, n.hash FROM cp
LEFT JOIN k ON 1 = 1
LEFT JOIN audit_nodes n ON n.log = ? AND n.level = k.level AND n.idx = k.idx
"""


def latest_with_nodes(
    conn: Connection, log: str, index: int
) -> tuple[tuple[int, str, str], dict[Key, bytes]] | None:
    """The latest checkpoint row of `log` (size, note, time) and the stored nodes an
    inclusion proof of leaf `index` at its size can need; None when `log` has none."""
    rows = driver.fetch_all(conn, _LATEST_WITH_NODES, (index, log, log), prepare=True)
    if not rows:
        return None
    nodes = {(lv, ix): bytes(h) for *_, lv, ix, h in rows if h is not None}
    return rows[0][:3], nodes


def proof_from(nodes: dict[Key, bytes], index: int, size: int) -> tuple[bytes, list[bytes]]:
    """The leaf hash at `index` and its inclusion proof at `size`, from fetched nodes
    (KeyError when one it needs is not among them)."""
    subtree = merkle.subtree_from(lambda lv, ix: nodes[(lv, ix)])
    return subtree(index, index + 1), merkle.inclusion_proof(index, size, subtree)


def consistency_proof(conn: Connection, log: str, size1: int, size2: int) -> list[bytes]:
    subtree = _subtree(conn, log, lambda s: merkle.consistency_proof(size1, size2, s))
    return merkle.consistency_proof(size1, size2, subtree)
