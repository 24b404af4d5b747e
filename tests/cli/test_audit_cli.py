"""`keel audit` and `keel init` against attacks, through the real CLI, on both backends.

Where issue 12 found the CLI saying "verified" (or "up to date") over a forged log, these
tests perform the attack and read what the command says and its exit code.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from keel import audit
from keel.audit import keys, trust
from keel.cli.main import run
from keel.config import load_settings
from keel.identity import Actor
from keel.workspace import open_workspace
from tests.audit.test_trust import forge_event, rewrite_history, rows
from tests.catalog.helpers import complete_system, write


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ws' / 'keel.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def home(tmp_path, monkeypatch, store_url) -> Path:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_DATABASE_URL", store_url)
    monkeypatch.setenv("KEEL_USER", "user:alice")
    assert run(["init"]) == 0
    return tmp_path / "ws"


def workspace(home: Path):
    return open_workspace(load_settings(home))


def vkey(home: Path, log: str = "governance") -> str:
    ws = workspace(home)
    try:
        name = trust.key_name(ws.name, log)
        file = keys.KEY_FILE if log == "governance" else keys.TRAFFIC_KEY_FILE
        signer = keys.load_signer(home, name, file)
    finally:
        ws.close()
    encoded = base64.b64encode(b"\x01" + signer.public_key).decode()
    return f"{signer.name}+{signer.key_id}+{encoded}"


def offline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "keel.audit.verify", *args], capture_output=True, text=True
    )


def test_verify_fails_a_forged_rotation_that_rewrote_an_approval(home, capsys, tmp_path):
    ws = workspace(home)
    try:
        with ws.write(Actor("user:default/alice", "local")) as session:
            audit.append(
                session,
                Actor("user:default/alice", "local"),
                [audit.Change("test.approval.recorded", "model:default/m@2", {"approver": "bob"})],
            )
        ws.seal()
        bodies = [b for _, b in rows(ws)]
        bodies[-1] = bodies[-1].replace(b'"approver":"bob"', b'"approver":"eve"')
        forger = Ed25519PrivateKey.generate()
        public = forger.public_key().public_bytes_raw()
        signer = ws.signer()
        bodies.append(  # as issue 12 found it: a rotation naming the forger's key
            forge_event(
                len(bodies) + 1,
                trust.ROTATED,
                "workspace",
                {
                    "old": {"key_id": signer.key_id, "public_key": signer.public_key.hex()},
                    "new": {"key_id": "0", "public_key": public.hex()},
                },
                {"id": "user:default/alice", "via": "local"},
            )
        )
        rewrite_history(ws, bodies, forger)
    finally:
        ws.close()
    capsys.readouterr()
    assert run(["audit", "verify", "--log", "governance"]) == 1
    out = capsys.readouterr().out
    assert "governance: FAILED" in out and "not signed by a trusted key" in out
    assert run(["audit", "verify", "--key", vkey(home)]) == 1


def test_commands_that_append_sign_before_they_exit(home, capsys, tmp_path):
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(tmp_path / "c.yaml")]) == 0
    ws = workspace(home)
    try:
        with ws.read() as session:
            from keel.audit import checkpoints

            assert checkpoints.latest(session).size == audit.head(session)
    finally:
        ws.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "governance: verified" in out and "no unsigned tail" in out


def test_verify_remembers_its_checkpoint_and_catches_a_log_cut_back(home, capsys, tmp_path):
    write(tmp_path / "c.yaml", *complete_system())
    ws = workspace(home)
    with ws.read() as session:
        early = audit.head(session)
    ws.close()
    assert run(["apply", "-f", str(tmp_path / "c.yaml")]) == 0
    assert run(["audit", "verify"]) == 0
    assert (home / "audit-verified.json").exists()
    ws = workspace(home)
    with ws.engine.begin() as conn:  # cut back to the checkpoint `init` signed
        conn.execute(
            text("DELETE FROM audit_events WHERE log = 'governance' AND seq > :n"), {"n": early}
        )
        conn.execute(
            text("DELETE FROM audit_checkpoints WHERE log = 'governance' AND size > :n"),
            {"n": early},
        )
        conn.execute(text("DELETE FROM audit_nodes WHERE log = 'governance'"))
    with ws.engine.begin() as conn:
        from keel.audit import merkle, tree

        bodies = [b for _, b in rows(ws)]
        for level, index, h in tree.new_nodes(0, {}, [merkle.leaf_hash(b) for b in bodies]):
            conn.execute(
                text(
                    "INSERT INTO audit_nodes (log, level, idx, hash) VALUES ('governance', :l, :i, :h)"
                ),
                {"l": level, "i": index, "h": h},
            )
    ws.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 1
    assert "the log was cut back" in capsys.readouterr().out


def test_traffic_log_is_signed_checkpointed_exported_and_verified_offline(home, capsys, tmp_path):
    from keel.gateway.traffic import TrafficLog

    ws = workspace(home)
    log = TrafficLog(ws)
    log.record({"endpoint": "api:default/chat", "status": 200})
    log.close()
    ws.close()
    assert run(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "governance: verified" in out and "traffic: verified 1 events" in out
    assert run(["audit", "checkpoint", "--log", "traffic"]) == 0
    assert "/traffic\n1\n" in capsys.readouterr().out
    assert run(["audit", "export", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "traffic" / "events.jsonl").exists()
    done = offline("--key", vkey(home), str(tmp_path / "all"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "traffic: verified 1 events" in done.stdout
    assert run(["audit", "export", "--log", "traffic", str(tmp_path / "t")]) == 0
    assert offline("--key", vkey(home, "traffic"), str(tmp_path / "t")).returncode == 0
    assert run(["audit", "pubkey", "--log", "traffic"]) == 0
    assert "/traffic+" in capsys.readouterr().out


def test_an_export_cut_back_to_an_earlier_checkpoint_fails_with_since(home, capsys, tmp_path):
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(tmp_path / "c.yaml")]) == 0
    capsys.readouterr()
    assert run(["audit", "checkpoint", "--log", "governance"]) == 0
    (tmp_path / "seen.note").write_text(capsys.readouterr().out)
    assert run(["audit", "export", "--log", "governance", str(tmp_path / "e")]) == 0
    folder = tmp_path / "e"
    cps = json.loads((folder / "checkpoints.json").read_text())
    first = cps[0]["size"]
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)[:first]
    (folder / "events.jsonl").write_bytes(b"".join(lines))
    (folder / "checkpoints.json").write_text(json.dumps(cps[:1]))
    meta = json.loads((folder / "log.json").read_text())
    (folder / "log.json").write_text(json.dumps({**meta, "events": first}))
    assert offline("--key", vkey(home), str(folder)).returncode == 0  # alone it cannot tell
    done = offline("--key", vkey(home), "--since", str(tmp_path / "seen.note"), str(folder))
    assert done.returncode == 1 and "the log was cut back" in done.stdout


def test_the_offline_verifier_names_a_deleted_line(home, capsys, tmp_path):
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(tmp_path / "c.yaml")]) == 0
    assert run(["audit", "export", "--log", "governance", str(tmp_path / "e")]) == 0
    events = tmp_path / "e" / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join(lines[:2] + lines[3:]))
    done = offline("--key", vkey(home), str(tmp_path / "e"))
    assert done.returncode == 1 and "event 3 is deleted" in done.stdout, done.stdout


def test_a_corrupt_checkpoint_row_fails_verify_with_exit_1(home, capsys):
    ws = workspace(home)
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET note = 'not a note'"))
    ws.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 1
    captured = capsys.readouterr()
    assert "a stored checkpoint is corrupt" in captured.out
    assert "run `keel audit verify`" not in captured.out + captured.err


def test_audit_log_takes_a_release_subject(home, capsys):
    ws = workspace(home)
    actor = Actor("user:default/alice", "local")
    with ws.write(actor) as session:
        audit.append(
            session, actor, [audit.Change("pipeline.release.promoted", "model:default/x@2", {})]
        )
    ws.close()
    capsys.readouterr()
    assert run(["audit", "log", "--subject", "model:x@2"]) == 0
    assert "pipeline.release.promoted model:default/x@2" in capsys.readouterr().out


def test_edited_index_columns_fail_verify(home, capsys):
    ws = workspace(home)
    actor = Actor("user:default/alice", "local")
    with ws.write(actor) as session:
        (event,) = audit.append(
            session, actor, [audit.Change("pipeline.release.promoted", "model:default/x@2", {})]
        )
    ws.close()
    ws = workspace(home)
    with ws.engine.begin() as conn:  # `release where` reads promotions by this column
        conn.execute(
            text("UPDATE audit_events SET action = 'release.noted' WHERE seq = :s"),
            {"s": event.seq},
        )
    ws.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 1
    assert f"event {event.seq}'s action column says 'release.noted'" in capsys.readouterr().out


@pytest.fixture
def pg_home(tmp_path, monkeypatch, pg_schema_url) -> Path:
    """A workspace on PostgreSQL: the store a second host can share."""
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_DATABASE_URL", pg_schema_url)
    monkeypatch.setenv("KEEL_USER", "user:alice")
    assert run(["init"]) == 0
    return tmp_path / "ws"


def test_a_second_init_on_a_shared_store_never_forks_the_key(
    pg_home, capsys, tmp_path, monkeypatch
):
    home = pg_home
    url = os.environ["KEEL_DATABASE_URL"]
    other = tmp_path / "host2"
    monkeypatch.setenv("KEEL_HOME", str(other))
    capsys.readouterr()
    assert run(["init"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "copy audit-ed25519.pem" in err[0]
    assert not (other / keys.KEY_FILE).exists()
    engine = create_engine(url)
    with engine.connect() as conn:
        current = conn.execute(text("SELECT name FROM audit_keys WHERE retired_at IS NULL"))
        names = sorted(r[0] for r in current)
    assert len(names) == 2 and names[1] == names[0] + "/traffic"  # no second governance key
    other.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / keys.KEY_FILE, other / keys.KEY_FILE)  # joins with the existing key
    assert run(["init"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert run(["audit", "checkpoint", "--log", "governance"]) == 0
    monkeypatch.setenv("KEEL_HOME", str(home))
    assert run(["audit", "verify"]) == 0
    monkeypatch.setenv("KEEL_HOME", str(other))
    assert run(["audit", "verify"]) == 0
    engine.dispose()


def test_a_second_init_with_another_key_file_is_refused(pg_home, capsys, tmp_path, monkeypatch):
    other = tmp_path / "host2"
    other.mkdir()
    keys._write_key(other / keys.KEY_FILE, Ed25519PrivateKey.generate())
    monkeypatch.setenv("KEEL_HOME", str(other))
    capsys.readouterr()
    assert run(["init"]) == 2
    assert "but this store is signed with" in capsys.readouterr().err
