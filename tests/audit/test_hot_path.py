"""The audit log's hot path (driver cursor, no ORM): the same bytes and the same tree as the
plain definitions, on both backends, whichever insert path (one INSERT or COPY) it takes."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text, update

from keel import audit
from keel.audit import merkle, tree
from keel.audit.canonical import canonical_bytes
from keel.audit.events import VERSION, Shared, event_bytes, new_op
from keel.store.bulk import FEW
from keel.workspace.core import SERVER, get_mode

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    action=st.text(),
    subject=st.text(),
    op=st.text(),
    stamp=st.text(),
    actor=st.dictionaries(st.text(), st.text(), max_size=3),
    seq=st.integers(min_value=1, max_value=2**62),
    details=st.dictionaries(st.text(), json_values, max_size=5),
)
def test_event_bytes_are_the_canonical_bytes_of_the_record(
    action, subject, op, stamp, actor, seq, details
):
    record = {
        "v": VERSION,
        "seq": seq,
        "time": stamp,
        "actor": actor,
        "action": action,
        "subject": subject,
        "op": op,
        "details": details,
    }
    shared = Shared(canonical_bytes(actor), canonical_bytes(op), canonical_bytes(stamp))
    change = audit.Change(action, subject, details)
    assert event_bytes(shared, seq, change) == canonical_bytes(record)


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=70))
def test_the_needed_edge_nodes_give_the_same_new_nodes_as_the_whole_edge(size, count):
    hashes = [merkle.leaf_hash(str(i).encode()) for i in range(size + count)]
    reference = merkle.MemoryTree()
    reference.hashes = hashes[:size]

    def node(level: int, index: int) -> bytes:
        return reference.subtree(index << level, (index + 1) << level)

    whole = {k: node(*k) for k in tree.right_edge(size)}
    needed = {k: node(*k) for k in tree.edge_needed(size, count)}
    # the definition: an edge node whose parent the new leaves complete
    assert set(needed) == {(lv, ix) for lv, ix in whole if (ix + 2) << lv <= size + count}
    assert tree.new_nodes(size, needed, hashes[size:]) == tree.new_nodes(size, whole, hashes[size:])
    if count == 1:  # a single append reads one node per trailing 1-bit of the size
        assert len(needed) == len(bin(size)) - len(bin(size).rstrip("1"))


def test_ops_are_time_ordered_hex_ids():
    ops = []
    for _ in range(50):
        ops.append(new_op())
        time.sleep(0.00002)
    assert all(re.fullmatch("[0-9a-f]{32}", op) for op in ops)
    assert ops == sorted(ops) and len(set(ops)) == len(ops)


def test_every_stored_node_is_the_reference_trees_whatever_the_insert_path(ws, admin):
    sizes = [1, FEW, FEW + 1, 3, 200, 1, 1, 1, 64]  # one INSERT up to FEW rows, COPY beyond
    for n, size in enumerate(sizes):
        with ws.write(admin) as session:
            audit.append(
                session,
                admin,
                [audit.Change("test.tick", f"s{n}", {"i": i, "é": "ü"}) for i in range(size)],
            )
    with ws.read() as session:
        events = audit.list_events(session)
        stored = session.execute(
            text("SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx")
        ).all()
    assert [e.seq for e in events] == list(range(1, sum(sizes) + 2))
    for e in events:
        assert e.body == canonical_bytes(e.record())
    reference = merkle.MemoryTree([e.body for e in events])
    expected = [
        (level, index, reference.subtree(index << level, (index + 1) << level))
        for level in range(reference.size.bit_length())
        for index in range(reference.size >> level)
    ]
    assert [(lv, ix, bytes(h)) for lv, ix, h in stored] == expected


def test_inclusion_proofs_carry_their_leaf_from_the_same_query(ws, admin):
    from keel.audit import log as audit_log

    with ws.write(admin) as session:
        audit.append(session, admin, [audit.Change("test.tick", "s", {"i": i}) for i in range(40)])
    with ws.read() as session:
        bodies = [e.body for e in audit.list_events(session)]
        reference = merkle.MemoryTree(bodies)
        for seq in (1, 2, 21, 41):
            proof = audit_log.inclusion(session, seq, size=41)
            assert proof.leaf == merkle.leaf_hash(bodies[seq - 1])
            assert proof.root == reference.root()
            merkle.verify_inclusion(seq - 1, 41, proof.leaf, proof.hashes, proof.root)


def test_the_mode_read_on_the_driver_sees_a_change_pending_in_the_session(ws, admin):
    from keel.workspace.tables import SettingRow

    with ws.write(admin) as session:
        session.merge(SettingRow(key="mode", value=SERVER))  # not flushed yet
        assert get_mode(session) == SERVER
        session.rollback()


def test_a_proof_at_the_latest_checkpoint_from_one_statement_matches_the_reference(ws, admin):
    """Every leaf of trees of many shapes (complete, one past, odd): the one-statement
    path picks exactly the nodes the proof needs, and agrees with the general path."""
    from keel.audit import checkpoints
    from keel.audit import log as audit_log

    with ws.read() as session:
        appended = len(audit.list_events(session))
    for size in (1, 2, 3, 5, 8, 13, 16, 17, 31, 64, 65, 100):
        if size > appended:
            with ws.write(admin) as session:
                changes = [audit.Change("test.tick", "s", {"i": i}) for i in range(size - appended)]
                audit.append(session, admin, changes)
            appended = size
        with ws.write(admin) as session:
            checkpoints.checkpoint(session, ws.signer())
        with ws.read() as session:
            bodies = [e.body for e in audit.list_events(session)]
            reference = merkle.MemoryTree(bodies)
            conn = session.connection()
            for seq in range(1, size + 1):
                found = tree.latest_with_nodes(conn, "governance", seq - 1)
                assert found is not None and found[0][0] == size
                proof = audit_log.inclusion(session, seq)
                assert proof.size == size and proof.root == reference.root()
                assert proof.leaf == merkle.leaf_hash(bodies[seq - 1])
                assert proof.hashes == merkle.inclusion_proof(seq - 1, size, reference.subtree)
                # nothing fetched beyond the leaf, its siblings and the right edge
                assert len(found[1]) <= 2 * size.bit_length() + 1


def test_a_checkpoint_row_whose_size_disagrees_with_its_note_takes_the_general_path(ws, admin):
    from keel.audit import checkpoints
    from keel.audit import log as audit_log
    from keel.audit.tables import CheckpointRow

    with ws.write(admin) as session:
        audit.append(session, admin, [audit.Change("test.tick", "s", {"i": i}) for i in range(9)])
        signed = checkpoints.checkpoint(session, ws.signer())
    with ws.write(admin) as session:  # the row says 7; the signed note still says 10
        session.execute(
            update(CheckpointRow).where(CheckpointRow.size == signed.size).values(size=7)
        )
    with ws.read() as session:
        proof = audit_log.inclusion(session, 9)
    assert proof.size == signed.size == 10 and proof.root == signed.root
    merkle.verify_inclusion(8, 10, proof.leaf, proof.hashes, proof.root)


@given(size=st.integers(0, 1 << 40), count=st.integers(1, 5000))
def test_the_edge_chosen_in_sql_is_the_edge_an_append_needs(size, count):
    """`head_with_edge` picks the nodes with SQL arithmetic; it must be `edge_needed`."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    sql = tree._HEAD_WITH_EDGE
    k_part = sql[
        sql.index("k(level, idx) AS MATERIALIZED (")
        + len("k(level, idx) AS MATERIALIZED (") : sql.index("\n)\n")
    ]
    query = (
        "WITH RECURSIVE h(m) AS (SELECT CAST(? AS BIGINT)), "
        + sql[sql.index("lv(l) AS") : sql.index("k(level, idx)")].rstrip().rstrip(",")
        + f" SELECT * FROM ({k_part.replace('?', str(count))})"
    )
    chosen = set(db.execute(query, (size,)).fetchall())
    assert chosen == set(tree.edge_needed(size, count))
