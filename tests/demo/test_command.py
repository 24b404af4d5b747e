"""`keel demo`, end to end as a user runs it: build the workspace, tour it, refuse foreign folders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

KEEL = Path(sys.executable).parent / "keel"


def test_demo_builds_a_fresh_workspace_and_refuses_foreign_folders(tmp_path):
    target = tmp_path / "demo"
    target.mkdir()  # an empty folder, as after `mkdir`, is built into
    proc = subprocess.run(
        [KEEL, "demo", "--no-serve", "--home", str(target), "--port", "8499"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stdout + proc.stderr  # every step of the tour ran
    assert "http://127.0.0.1:8499/login/code?c=" in proc.stdout  # the port it serves on
    assert (target / "served-url").read_text().strip() == "http://127.0.0.1:8499"
    assert "29 entities." in proc.stdout
    assert "businessoutcome:default/approval-rate" in proc.stdout
    assert re.search(
        r"credit-scorer: AUC 0\.[6-9]\d\d", proc.stdout
    )  # a real model, really trained
    assert "/login/code?c=keel_code_" in proc.stdout
    assert (target / "artifacts" / "credit-scorer.skops").stat().st_size > 1000
    assert "credit-scorer@1 (every column): refused staging" in proc.stdout
    assert "evidence model.fairness-age: the newest fairness-age check" in proc.stdout
    assert re.search(r"production +credit-scorer@2", proc.stdout)
    # the support assistant's production traffic has a release behind it: its index
    assert re.search(r"production +support-assistant-model@1", proc.stdout)
    assert (target / "artifacts" / "kb-index" / "kb-index.json").exists()
    assert re.search(r"verified: \d+ checks passed", proc.stdout)  # the tour checks it
    assert (target / "attestations" / "credit-scorer@2.intoto.jsonl").exists()
    again = subprocess.run(
        [KEEL, "demo", "--no-serve", "--home", str(target)], capture_output=True, text=True
    )
    assert again.returncode == 0  # a demo workspace is rebuilt
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = subprocess.run(
        [KEEL, "demo", "--no-serve", "--home", str(foreign)], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "not a Keel demo workspace" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert (foreign / "notes.txt").read_text() == "keep me"
