"""The stored Merkle log on both backends: proofs, checkpoints, verification, export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text, update

from keel import audit
from keel.audit import checkpoints, keys, merkle, note
from keel.audit import log as audit_log
from keel.audit.tables import EventRow
from keel.audit.verify import verify_export
from keel.errors import UsageError


def append_n(ws, actor, n, batch=7):
    for start in range(0, n, batch):
        with ws.write(actor) as session:
            audit.append(
                session,
                actor,
                [
                    audit.Change("test.tick", f"s{i}", {"i": i})
                    for i in range(start, min(n, start + batch))
                ],
            )


def bodies(ws):
    with ws.read() as session:
        return [e.body for e in audit.list_events(session)]


def test_stored_tree_matches_the_reference_and_proofs_verify(ws, admin):
    append_n(ws, admin, 60)
    reference = merkle.MemoryTree(bodies(ws))
    with ws.write(admin) as session:
        signed = checkpoints.checkpoint(session, ws.signer())
    assert signed.size == reference.size == 61
    assert signed.root == reference.root()
    with ws.read() as session:
        for seq in (1, 2, 17, 33, 61):
            p = audit_log.inclusion(session, seq)
            merkle.verify_inclusion(
                seq - 1, p.size, merkle.leaf_hash(reference_body(ws, seq)), p.hashes, signed.root
            )
            assert p.hashes == merkle.inclusion_proof(seq - 1, 61, reference.subtree)
        for size1 in (1, 5, 32, 60):
            c = audit_log.consistency(session, size1, 61)
            merkle.verify_consistency(size1, 61, c.hashes, reference.root(size1), signed.root)
        with pytest.raises(UsageError):
            audit_log.inclusion(session, 62)


def reference_body(ws, seq):
    return bodies(ws)[seq - 1]


def test_checkpoints_are_signed_notes_at_most_once_a_second(ws, admin):
    append_n(ws, admin, 30, batch=1)  # 30 quick writes
    with ws.read() as session:
        signed = checkpoints.all_checkpoints(session)
        history = keys.history(session)
    assert 1 <= len(signed) <= 5
    verifiers = keys.verifier_keys(history)
    for cp in signed:
        opened = note.open_note(cp.note, verifiers)
        assert opened.size == cp.size and opened.root == cp.root
        assert opened.origin == f"{ws.name}/governance"
    forged = signed[-1].note.replace(signed[-1].note.split("\n")[1], "999")
    with pytest.raises(note.NoteError):
        note.open_note(forged, verifiers)


def test_verify_passes_and_names_tampering(ws, admin):
    append_n(ws, admin, 40)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    with ws.read() as session:
        assert audit_log.verify(session, ws.name).ok

    def tamper(sql, **params):
        with ws.engine.begin() as conn:
            conn.execute(text(sql), params)
        with ws.read() as session:
            return audit_log.verify(session, ws.name)

    original = bodies(ws)[9]
    changed = tamper(
        "UPDATE audit_events SET body = :b WHERE seq = 10", b=original.replace(b'"i":8', b'"i":9')
    )
    assert not changed.ok and "event 10 is changed" in changed.problems[0]
    tamper("UPDATE audit_events SET body = :b WHERE seq = 10", b=original)

    deleted = tamper("DELETE FROM audit_events WHERE seq = 20")
    assert "event 20 is deleted" in deleted.problems[0]


def test_verify_catches_rewritten_leaves_through_the_signed_checkpoint(ws, admin):
    append_n(ws, admin, 12)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    body = bodies(ws)[4].replace(b'"i":3', b'"i":4')
    with ws.engine.begin() as conn:  # an attacker rewrites the event and its stored leaf
        conn.execute(update(EventRow).where(EventRow.seq == 5).values(body=body))
        conn.execute(
            text("UPDATE audit_nodes SET hash = :h WHERE level = 0 AND idx = 4"),
            {"h": merkle.leaf_hash(body)},
        )
    with ws.read() as session:
        result = audit_log.verify(session, ws.name)
    # the node above the rewritten leaf no longer matches, nor would the signed root
    assert not result.ok and "(level 1, index 2) is changed" in result.problems[0]


def test_reordered_rows_are_caught(ws, admin):
    append_n(ws, admin, 10)
    b = bodies(ws)
    with ws.engine.begin() as conn:
        conn.execute(update(EventRow).where(EventRow.seq == 3).values(body=b[3]))
        conn.execute(update(EventRow).where(EventRow.seq == 4).values(body=b[2]))
    with ws.read() as session:
        result = audit_log.verify(session, ws.name)
    assert "event 3 is reordered" in result.problems[0]


def test_export_verifies_offline_without_sqlalchemy(ws, admin, tmp_path):
    append_n(ws, admin, 25)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    with ws.read() as session:
        assert audit_log.export(session, ws.name, tmp_path / "exp") == 26
    assert verify_export(tmp_path / "exp").ok
    probe = (
        "import sys, runpy; sys.argv = ['v', {!r}]; "
        "import keel.audit.verify as v; code = v.main(); "
        "assert 'sqlalchemy' not in sys.modules, 'imported sqlalchemy'; sys.exit(code)"
    ).format(str(tmp_path / "exp"))
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "verified 26 events" in proc.stdout


def test_corrupt_exports_are_rejected_clearly(ws, admin, tmp_path):
    append_n(ws, admin, 20)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
        audit_log.export(session, ws.name, tmp_path / "good")
    events = (tmp_path / "good" / "events.jsonl").read_bytes()
    cases = {
        "truncated": lambda d: (d / "events.jsonl").write_bytes(events[:-40]),
        "dropped line": lambda d: (d / "events.jsonl").write_bytes(
            b"".join(events.splitlines(True)[:-1])
        ),
        "bit flip": lambda d: (d / "events.jsonl").write_bytes(events.replace(b'"i":5', b'"i":7')),
        "wrong key": lambda d: (d / "keys.json").write_text(
            json.dumps(
                [
                    {
                        "name": ws.name,
                        "public_key": "00" * 32,
                        "key_id": "x",
                        "created_at": "",
                        "retired_at": None,
                    }
                ]
            )
        ),
        "garbage metadata": lambda d: (d / "log.json").write_text("{nope"),
        "missing file": lambda d: (d / "checkpoints.json").unlink(),
    }
    for label, corrupt in cases.items():
        folder = tmp_path / label.replace(" ", "-")
        subprocess.run(["cp", "-r", str(tmp_path / "good"), str(folder)], check=True)
        corrupt(folder)
        result = verify_export(folder)
        assert not result.ok, label
        assert result.problems[0] and "\n" not in result.problems[0], label


def test_key_rotation_keeps_old_checkpoints_verifying(ws, admin):
    append_n(ws, admin, 5)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
        audit_log.rotate_key(session, admin, ws.settings.home, ws.name)
    ws._signer = None
    append_n(ws, admin, 5)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    with ws.read() as session:
        result = audit_log.verify(session, ws.name)
        rotated = audit.list_events(session, action="audit.key.rotated")
    assert result.ok and result.checkpoints >= 2
    assert len(rotated) == 1


def test_a_rotation_interrupted_on_either_side_of_its_commit_leaves_one_agreed_key(ws, admin):
    from keel.audit import keys

    home = ws.settings.home
    before = ws.signer().key_id
    with pytest.raises(RuntimeError), ws.write(admin) as session:  # dies before the commit
        audit_log.rotate_key(session, admin, home, ws.name)
        raise RuntimeError("killed")
    assert (home / keys.PENDING_FILE).exists()
    ws._signer = None
    assert ws.signer().key_id == before  # the uncommitted key is dropped
    assert not (home / keys.PENDING_FILE).exists()

    with ws.write(admin) as session:  # commits, then dies before the key file moves
        audit_log.rotate_key(session, admin, home, ws.name)
    ws._signer = None
    after = ws.signer().key_id
    with ws.read() as session:
        current = [
            k for k in keys.history(session) if k["retired_at"] is None and k["name"] == ws.name
        ]
    assert after != before and [k["key_id"] for k in current] == [after]
    assert not (home / keys.PENDING_FILE).exists()


def test_tampering_the_tree_the_tail_or_the_checkpoints_is_caught(ws, admin):
    append_n(ws, admin, 40)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    append_n(ws, admin, 3)  # an unsigned tail

    def verify_after(sql):
        with ws.engine.begin() as conn:
            conn.execute(text(sql))
        with ws.read() as session:
            return audit_log.verify(session, ws.name, pinned=ws.signer().public_key)

    with ws.read() as session:
        clean = audit_log.verify(session, ws.name, pinned=ws.signer().public_key)
    assert clean.ok and clean.unsigned == 3 and "unsigned tail of 3 events" in clean.summary()
    with ws.engine.begin() as conn:
        (h,) = conn.execute(text("SELECT hash FROM audit_nodes WHERE level = 3 AND idx = 0")).one()
    broken = bytes(h)[:-1] + bytes([h[-1] ^ 1])
    with ws.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_nodes SET hash = :h WHERE level = 3 AND idx = 0"), {"h": broken}
        )
    with ws.read() as session:
        node = audit_log.verify(session, ws.name, pinned=ws.signer().public_key)
    assert "(level 3, index 0) is changed" in node.problems[0]
    with ws.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_nodes SET hash = :h WHERE level = 3 AND idx = 0"), {"h": bytes(h)}
        )
    tail = verify_after("DELETE FROM audit_events WHERE seq > 42")
    assert "no event accounts for" in tail.problems[0]
    gone = verify_after("DELETE FROM audit_checkpoints")
    assert "no signed checkpoint covers the log" in gone.problems[0]


def test_a_key_smuggled_into_the_key_table_is_not_trusted(ws, admin):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keel.audit.tables import KeyRow

    append_n(ws, admin, 5)
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    with ws.write(admin) as session:
        size = audit.head(session)
        root = audit_log.inclusion(session, 1, size=size).root
        session.add(
            KeyRow(
                key_id=note.key_hash(ws.name, public).hex(),
                name=ws.name,
                public_key=public,
                created_at="2026-01-01T00:00:00Z",
                retired_at=None,
            )
        )
        forged = note.sign(note.Checkpoint(f"{ws.name}/governance", size, root), ws.name, forger)
        session.execute(text("DELETE FROM audit_checkpoints"))
        session.add(
            checkpoints.CheckpointRow(
                log="governance", size=size, root=root, note=forged, time="2026-01-01T00:00:00Z"
            )
        )
    with ws.read() as session:
        result = audit_log.verify(session, ws.name, pinned=ws.signer().public_key)
    assert not result.ok and "not signed by a trusted key" in result.problems[0]


def test_the_offline_verifier_can_pin_its_key(ws, admin, tmp_path):
    import base64

    from keel.audit.verify import main, parse_vkey

    append_n(ws, admin, 8)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
        audit_log.export(session, ws.name, tmp_path / "exp")
    signer = ws.signer()
    encoded = base64.b64encode(b"\x01" + signer.public_key).decode()
    vkey = f"{ws.name}+{signer.key_id}+{encoded}"
    assert parse_vkey(vkey).public_key == signer.public_key
    assert main(["--key", vkey, str(tmp_path / "exp")]) == 0
    strange = base64.b64encode(b"\x01" + b"\x02" * 32).decode()
    other = f"{ws.name}+00000000+{strange}"
    assert main(["--key", other, str(tmp_path / "exp")]) == 2  # a vkey whose hash does not match
    stranger = parse_vkey(other.replace("00000000", note.key_hash(ws.name, b"\x02" * 32).hex()))
    assert stranger.public_key == b"\x02" * 32
    from keel.audit.verify import verify_export

    assert not verify_export(tmp_path / "exp", [stranger]).ok


def test_a_whole_rebuilt_tree_is_still_caught_by_the_signed_checkpoint(ws, admin):
    from keel.audit import tree

    append_n(ws, admin, 12)
    with ws.write(admin) as session:
        checkpoints.checkpoint(session, ws.signer())
    forged = [b.replace(b'"i":3', b'"i":4') for b in bodies(ws)]
    with ws.engine.begin() as conn:  # the attacker rewrites an event and every node consistently
        conn.execute(update(EventRow).where(EventRow.seq == 5).values(body=forged[4]))
        conn.execute(text("DELETE FROM audit_nodes"))
        rows = tree.new_nodes(0, {}, [merkle.leaf_hash(b) for b in forged])
        conn.execute(
            text(
                "INSERT INTO audit_nodes (log, level, idx, hash) VALUES ('governance', :l, :i, :h)"
            ),
            [{"l": lv, "i": ix, "h": h} for lv, ix, h in rows],
        )
    with ws.read() as session:
        result = audit_log.verify(session, ws.name, pinned=ws.signer().public_key)
    assert not result.ok and "do not match the checkpoint" in result.problems[0]
