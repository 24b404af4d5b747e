"""Attacks on the audit log by someone with write access to the store, on both backends.

Each test performs the attack of issue 12 against the real store and checks that the
verifier that trusts only the pinned key (the key file's, as `keel audit verify` does)
names it. Before pinned trust roots, bounded tails and checked columns, each verified.
"""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from keel import audit
from keel.audit import canonical, checkpoints, keys, merkle, note, tree, trust
from keel.audit import log as audit_log
from keel.audit.events import Shared, event_bytes
from keel.audit.tables import CheckpointRow, KeyRow
from keel.store import transaction


def append(ws, actor, changes):
    with ws.write(actor) as session:
        return audit.append(session, actor, changes)


def verify(ws, log="governance", **kw):
    with ws.read() as session:
        return audit_log.verify(session, ws.name, log, pinned=ws.signer().public_key, **kw)


def rows(ws, log="governance"):
    with ws.engine.begin() as conn:
        found = conn.execute(
            text("SELECT seq, body FROM audit_events WHERE log = :l ORDER BY seq"), {"l": log}
        )
        return [(seq, bytes(body)) for seq, body in found]


def forge_event(seq: int, action: str, subject: str, details: dict, actor: dict) -> bytes:
    shared = Shared(
        canonical.canonical_bytes(actor),
        canonical.canonical_bytes("0" * 32),
        canonical.canonical_bytes("2026-12-01T00:00:00.000000Z"),
    )
    return event_bytes(shared, seq, audit.Change(action, subject, details))


def rewrite_history(
    ws, bodies: list[bytes], forger, *, log="governance", key_name=None, add_key=True
):
    """What an attacker with the store and no key file does: rewrite the events, rebuild
    every tree node, replace every checkpoint with one signed by their own key, and add
    that key to the key table as the current one."""
    name = key_name or ws.name
    public = forger.public_key().public_bytes_raw()
    with ws.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE log = :l"), {"l": log})
        conn.execute(text("DELETE FROM audit_nodes WHERE log = :l"), {"l": log})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE log = :l"), {"l": log})
        for seq, body in enumerate(bodies, start=1):
            record = json.loads(body)
            conn.execute(
                text(
                    "INSERT INTO audit_events (log, seq, time, actor, action, subject, op, body)"
                    " VALUES (:log, :seq, :time, :actor, :action, :subject, :op, :body)"
                ),
                {
                    "log": log,
                    "seq": seq,
                    "time": record["time"],
                    "actor": record["actor"]["id"],
                    "action": record["action"],
                    "subject": record["subject"],
                    "op": record["op"],
                    "body": body,
                },
            )
        leaves = [merkle.leaf_hash(b) for b in bodies]
        for level, index, h in tree.new_nodes(0, {}, leaves):
            conn.execute(
                text("INSERT INTO audit_nodes (log, level, idx, hash) VALUES (:g, :l, :i, :h)"),
                {"g": log, "l": level, "i": index, "h": h},
            )
        reference = merkle.MemoryTree(bodies)
        for size in range(1, len(bodies) + 1):
            root = reference.root(size)
            signed = note.sign(note.Checkpoint(f"{ws.name}/{log}", size, root), name, forger)
            conn.execute(
                CheckpointRow.__table__.insert().values(
                    log=log, size=size, root=root, note=signed, time="2026-12-01T00:00:00Z"
                )
            )
        if not add_key:
            return
        conn.execute(text("UPDATE audit_keys SET retired_at = '2026-12-01T00:00:00Z'"))
        conn.execute(
            KeyRow.__table__.insert().values(
                key_id=note.key_hash(name, public).hex(),
                name=name,
                public_key=public,
                created_at="2026-12-01T00:00:00Z",
                retired_at=None,
            )
        )


def test_a_forged_key_rotation_with_rewritten_history_fails(ws, admin):
    append(
        ws,
        admin,
        [
            audit.Change(
                "test.approval.recorded", "model:default/m@2", {"approver": "user:default/bob"}
            )
        ],
    )
    ws.seal()
    bodies = [b for _, b in rows(ws)]
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    bodies[1] = bodies[1].replace(b"user:default/bob", b"user:default/eve")
    bodies.append(
        forge_event(
            len(bodies) + 1,
            trust.ROTATED,
            "workspace",
            {
                "old": {"key_id": ws.signer().key_id, "public_key": ws.signer().public_key.hex()},
                "new": {"key_id": note.key_hash(ws.name, public).hex(), "public_key": public.hex()},
                "endorsement": trust.endorse(
                    forger, ws.name, "governance", trust.ROTATED, public, ws.signer().public_key
                ),
            },
            {"id": "user:default/alice", "via": "local"},
        )
    )
    rewrite_history(ws, bodies, forger)
    result = verify(ws)  # before pinned roots, the rotation event made the forger's key trusted
    assert not result.ok
    assert "not signed by a trusted key" in result.problems[0]


def test_a_forged_rotation_slipped_into_the_tail_before_an_honest_checkpoint_is_refused(ws, admin):
    """The attacker appends a rotation to their own key; an honest command signs it; then
    they rewrite what follows and sign it with their key. The rotation lacks an endorsement
    by the key it retires, so their key never becomes trusted."""
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    signer = ws.signer()
    with transaction(ws.engine, write=True) as session:
        audit.append(
            session,
            admin,
            [
                audit.Change(
                    trust.ROTATED,
                    "workspace",
                    {
                        "old": {"key_id": signer.key_id, "public_key": signer.public_key.hex()},
                        "new": {"key_id": "x", "public_key": public.hex()},
                        "endorsement": trust.endorse(
                            forger, ws.name, "governance", trust.ROTATED, public, signer.public_key
                        ),
                    },
                )
            ],
        )
    ws.seal()  # the honest signer covers it
    append(
        ws,
        admin,
        [audit.Change("test.approval.recorded", "model:default/m@2", {"approver": "bob"})],
    )
    ws.seal()
    result = verify(ws)
    assert (
        not result.ok
        and "is rejected: a rotation is endorsed by the key it retires" in result.problems[0]
    )


def test_an_honest_rotation_is_trusted_from_either_key(ws, admin):
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 1})])
    old = ws.signer()
    with ws.write(admin) as session:
        audit_log.rotate_key(session, admin, ws.settings.home, ws.name)
    ws._signer = None
    new = ws.signer()
    assert new.key_id != old.key_id
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 2})])
    ws.seal()
    for pinned in (new.public_key, old.public_key):
        with ws.read() as session:
            result = audit_log.verify(session, ws.name, pinned=pinned)
        assert result.ok, result.problems
    with ws.read() as session:  # a stranger's key vouches for nothing
        stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        assert not audit_log.verify(session, ws.name, pinned=stranger).ok


def test_a_key_introduced_without_a_governance_endorsement_is_a_forgery(ws, admin):
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    with transaction(ws.engine, write=True) as session:
        audit.append(
            session,
            admin,
            [
                audit.Change(
                    trust.INTRODUCED,
                    "workspace",
                    {
                        "log": "traffic",
                        "key": {"key_id": "x", "public_key": public.hex()},
                        "endorsement": trust.endorse(
                            forger, ws.name, "traffic", trust.INTRODUCED, public
                        ),
                    },
                )
            ],
        )
    ws.seal()
    result = verify(ws)
    assert not result.ok and "no trusted key endorsed: a forged key" in result.problems[0]


def traffic(ws, n=3):
    from keel.gateway.traffic import TrafficLog

    log = TrafficLog(ws)
    for i in range(n):
        log.record({"endpoint": "api:default/chat", "status": 200, "i": i})
    log.close()  # flushes and signs, as at the gateway's shutdown
    return log


def test_the_traffic_log_is_signed_with_its_own_key_and_verifies(ws, admin):
    traffic(ws)
    with ws.read() as session:
        latest = checkpoints.latest(session, "traffic")
        results = audit_log.verify_logs(
            session, ws.name, ["governance", "traffic"], pinned=ws.signer().public_key
        )
    assert latest is not None and latest.size == 3
    assert f"\u2014 {ws.name}/traffic " in latest.note  # the traffic key, not the governance key
    assert [r.ok for r in results] == [True, True], [r.problems for r in results]
    assert results[1].events == 3 and results[1].unsigned == 0


def test_a_traffic_log_signed_by_a_key_of_the_attackers_fails(ws, admin):
    traffic(ws)
    bodies = [b for _, b in rows(ws, "traffic")]
    bodies[1] = bodies[1].replace(b'"status":200', b'"status":403')
    rewrite_history(
        ws, bodies, Ed25519PrivateKey.generate(), log="traffic", key_name=f"{ws.name}/traffic"
    )
    with ws.read() as session:
        results = audit_log.verify_logs(
            session, ws.name, ["traffic"], pinned=ws.signer().public_key
        )
    assert not results[0].ok and "not signed by a trusted key" in results[0].problems[0]


def test_the_traffic_log_signs_every_n_events(ws, admin):
    from keel.gateway.traffic import TrafficLog

    log = TrafficLog(ws, sign_every=5, sign_interval=3600)
    for i in range(12):
        log.record({"endpoint": "api:default/chat", "i": i})
        log.flush()
    with ws.read() as session:
        sizes = [c.size for c in checkpoints.all_checkpoints(session, "traffic")]
    assert sizes == [5, 10]
    log.close()
    with ws.read() as session:
        assert checkpoints.latest(session, "traffic").size == 12


def test_a_stale_unsigned_tail_fails_and_an_edited_one_is_named(ws, admin):
    ws.seal()
    with transaction(ws.engine, write=True) as session:  # a process that died before signing
        audit.append(session, admin, [audit.Change("test.tick", "s", {"i": 1})])
    fresh = verify(ws)
    assert fresh.ok and fresh.unsigned == 1 and fresh.tail_age is not None
    time.sleep(1.1)
    stale = verify(ws, max_tail_age=1.0)
    assert not stale.ok and "unsigned and the oldest is" in stale.problems[0]
    assert "past the 1 s bound" in stale.problems[0]


def test_a_forged_tail_dated_in_the_future_to_look_fresh_fails(ws, admin):
    from keel.audit.events import COLUMNS, EventRow, NodeRow
    from keel.store.bulk import insert_together

    ws.seal()
    with transaction(ws.engine, write=True) as session:  # appended by hand, with store access
        conn = session.connection()
        size = audit.head(session)
        shared = Shared(
            canonical.canonical_bytes(admin.record()),
            canonical.canonical_bytes("0" * 32),
            canonical.canonical_bytes("2099-01-01T00:00:00.000000Z"),
        )
        body = event_bytes(shared, size + 1, audit.Change("test.tick", "s", {"i": 1}))
        row = ("governance", size + 1, "2099-01-01T00:00:00.000000Z", admin.id, "test.tick", "s")
        size, edge = tree.head_with_edge(conn, "governance", 1)
        nodes = tree.extension("governance", size, edge, [merkle.leaf_hash(body)])
        insert_together(
            conn,
            [
                (EventRow.__table__, COLUMNS, [(*row, "0" * 32, body)]),
                (NodeRow.__table__, tree.NODE_COLUMNS, nodes),
            ],
        )
    result = verify(ws)
    assert not result.ok and "dated" in result.problems[0] and "in the future" in result.problems[0]


def test_a_log_cut_back_to_an_older_checkpoint_fails_against_the_remembered_one(ws, admin):
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 1})])
    ws.seal()
    with ws.read() as session:
        early = checkpoints.latest(session)
    append(ws, admin, [audit.Change("test.tick", "s", {"i": i}) for i in range(2, 6)])
    ws.seal()
    first = verify(ws)
    assert first.ok
    with ws.engine.begin() as conn:  # cut back to the early checkpoint, consistently
        conn.execute(text("DELETE FROM audit_events WHERE seq > :n"), {"n": early.size})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE size > :n"), {"n": early.size})
        for level in range(10):
            conn.execute(
                text("DELETE FROM audit_nodes WHERE level = :l AND (idx + 1) * :w > :n"),
                {"l": level, "w": 1 << level, "n": early.size},
            )
    assert verify(ws).ok  # consistent in itself: only memory can tell
    cut = verify(ws, since=[first.latest])
    assert not cut.ok and "the log was cut back" in cut.problems[0]


def test_history_rewritten_below_a_remembered_checkpoint_fails_its_consistency_proof(ws, admin):
    append(ws, admin, [audit.Change("test.tick", "s", {"i": i}) for i in range(6)])
    ws.seal()
    first = verify(ws)
    # another host, or the attacker with the key: a different history of the same length
    other_bodies = [b for _, b in rows(ws)]
    other_bodies[3] = other_bodies[3].replace(b'"i":2', b'"i":9')
    rewrite_history(ws, other_bodies, ws.signer().private_key, add_key=False)
    assert verify(ws).ok  # signed by the real key: only memory can tell
    result = verify(ws, since=[first.latest])
    assert not result.ok and "no longer extends the checkpoint" in result.problems[0]


def test_edited_index_columns_fail_verify_and_do_not_fool_queries(ws, admin):
    append(
        ws,
        admin,
        [
            audit.Change(
                "pipeline.release.promoted", "model:default/m@2", {"environment": "production"}
            )
        ],
    )
    ws.seal()
    seq = len(rows(ws))
    for column, value in (
        ("action", "release.promoted.not"),
        ("subject", "model:default/m@1"),
        ("actor", "user:default/eve"),
        ("time", "2020-01-01T00:00:00.000000Z"),
        ("op", "f" * 32),
    ):
        with ws.engine.begin() as conn:
            before = conn.execute(
                text(f"SELECT {column} FROM audit_events WHERE seq = :s"), {"s": seq}
            ).scalar()
            conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"),
                {"v": value, "s": seq},
            )
        result = verify(ws)
        assert not result.ok and f"event {seq}'s {column} column says" in result.problems[0]
        with ws.read() as session:  # a query never returns what the body does not say
            found = (
                audit.list_events(session, **{"action" if column == "action" else "subject": value})
                if column in ("action", "subject")
                else []
            )
        assert found == []
        with ws.engine.begin() as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"),
                {"v": before, "s": seq},
            )
    assert verify(ws).ok


def test_columns_with_characters_json_escapes_still_verify(ws, admin):
    append(ws, admin, [audit.Change("test.tick", 'thing:"quoted"\\ü\n', {"i": 1})])
    ws.seal()
    assert verify(ws).ok


def test_a_corrupt_checkpoint_row_is_a_verify_failure(ws, admin):
    ws.seal()
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET note = 'garbage'"))
    result = verify(ws)
    assert not result.ok and "a stored checkpoint is corrupt" in result.problems[0]


def test_keys_stay_apart_per_log():
    assert trust.key_name("keel.dev/x", "governance") == "keel.dev/x"
    assert trust.key_name("keel.dev/x", "traffic") == "keel.dev/x/traffic"
    grants = trust.roots([note.VerifierKey("keel.dev/x/traffic", b"\x01" * 32)], "keel.dev/x")
    assert grants[0].log == "traffic" and not grants[0].allows("governance", 1)
    assert keys.TRAFFIC_KEY_FILE != keys.KEY_FILE


def test_a_long_running_process_signs_its_tail_within_a_second_and_at_shutdown(settings, admin):
    from keel.workspace import init_workspace

    ws, _ = init_workspace(settings, admin)
    ws.start_sealing(every=0.2)
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 1})])
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 2})])  # within the write's second

    def tail():
        with ws.read() as session:
            return audit.head(session) - checkpoints.latest(session).size

    deadline = time.monotonic() + 3
    while tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tail() == 0
    ws._sealer.stop()  # sealing paused: what the process appends now waits for shutdown
    ws._sealer = None
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 3})])
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 4})])
    ws.close()
    ws, _ = init_workspace(settings, admin)
    try:
        assert tail() == 0
    finally:
        ws.close()


def test_a_retired_key_signs_nothing_after_its_rotation_even_when_pinned(ws, admin):
    """The old key leaks after a rotation: its holder signs a checkpoint over a forged
    event, and introduces a key of theirs with the old key's endorsement. A verifier that
    pinned the old key trusts neither."""
    old = ws.signer()
    with ws.write(admin) as session:
        audit_log.rotate_key(session, admin, ws.settings.home, ws.name)
    ws._signer = None
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    with transaction(ws.engine, write=True) as session:
        audit.append(
            session,
            admin,
            [
                audit.Change(
                    trust.INTRODUCED,
                    "workspace",
                    {
                        "log": "traffic",
                        "key": {"key_id": "x", "public_key": public.hex()},
                        "endorsement": trust.endorse(
                            old.private_key, ws.name, "traffic", trust.INTRODUCED, public
                        ),
                    },
                )
            ],
        )
        checkpoints.checkpoint(session, old)  # signed by the retired key only
    with ws.read() as session:
        result = audit_log.verify(session, ws.name, pinned=old.public_key)
    assert not result.ok and "not signed by a trusted key" in result.problems[0]
    ws.seal()  # the current key signs the head too: the endorsement still does not count
    with ws.read() as session:
        result = audit_log.verify(session, ws.name, pinned=ws.signer().public_key)
    assert not result.ok
    assert any(p in result.problems[0] for p in ("not signed by a trusted key", "a forged key")), (
        result.problems
    )


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=_TEXT, action=_TEXT, other=_TEXT)
def test_any_column_value_verifies_as_written_and_fails_when_edited(
    ws, admin, subject, action, other
):
    """Columns holding quotes, backslashes, control or non-ASCII characters agree with
    their bodies (the SQL fast path falls back to the exact check), and any edit fails."""
    (event,) = append(ws, admin, [audit.Change(action, subject, {"x": other})])
    ws.seal()
    assert verify(ws).ok
    if other != subject:
        with ws.engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET subject = :v WHERE seq = :s"),
                {"v": other, "s": event.seq},
            )
        result = verify(ws)
        assert not result.ok and f"event {event.seq}'s subject column" in result.problems[0]
        with ws.engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET subject = :v WHERE seq = :s"),
                {"v": subject, "s": event.seq},
            )


@given(
    n=st.integers(min_value=3, max_value=40),
    data=st.data(),
)
def test_the_offline_verifier_names_a_deleted_inserted_or_reordered_line(n, data):
    from keel.audit.verify import verify_log

    shared = Shared(b'{"id":"u","via":"local"}', b'"op"', b'"2026-12-01T00:00:00.000000Z"')
    bodies = [event_bytes(shared, i, audit.Change("t.x", "s", {"i": i})) for i in range(1, n + 1)]
    at = data.draw(st.integers(min_value=0, max_value=n - 2))
    kind = data.draw(st.sampled_from(["deleted", "reordered", "inserted"]))
    lines = list(bodies)
    if kind == "deleted":
        del lines[at]
    elif kind == "reordered":
        lines[at], lines[at + 1] = lines[at + 1], lines[at]
    else:
        lines.insert(at + 1, lines[at])
    result = verify_log(
        "governance",
        "keel.dev/x/governance",
        [(i, b, False) for i, b in enumerate(lines, start=1)],
        [],
        [],
    )
    assert not result.ok
    assert result.problems[0].startswith(
        f"event {at + 1 if kind != 'inserted' else at + 2} is {kind}"
    )


def test_a_process_that_appended_twice_within_a_second_signs_both_before_it_exits(settings, admin):
    """What every CLI command does (`keel.cli.context.workspace` closes the workspace): the
    second write falls inside the once-a-second window, and is signed at close anyway."""
    from keel.workspace import init_workspace, open_workspace

    init_workspace(settings, admin)[0].close()
    ws = open_workspace(settings)
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 1})])
    append(ws, admin, [audit.Change("test.tick", "s", {"i": 2})])
    with ws.read() as session:
        assert checkpoints.latest(session).size < audit.head(session)  # the window
    ws.close()
    ws = open_workspace(settings)
    try:
        with ws.read() as session:
            assert checkpoints.latest(session).size == audit.head(session)
    finally:
        ws.close()
