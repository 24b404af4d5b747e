"""`keel ready`, `keel review` and `keel stage` on the demo catalog: output, gates, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from keel.cli.main import run
from tests.conftest import EXAMPLES


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    return tmp_path


def test_ready_scores_and_gates(home, capsys):
    capsys.readouterr()
    assert run(["ready", "credit-decisioning"]) == 0  # 64, the policy asks 60
    out = capsys.readouterr().out
    assert "readiness 64/100 (the mean of five dimensions)" in out
    assert "Data foundations      50  ██████████░░░░░░░░░░" in out
    assert "-35  data.quality" in out and "fix: run the data quality check" in out
    assert "minimum 60 (policy policy:default/credit-decisioning-release): met" in out

    assert run(["ready", "credit-decisioning", "--min-score", "70"]) == 1
    assert "minimum 70 (--min-score): not met" in capsys.readouterr().out
    assert run(["ready", "support-assistant"]) == 0  # its policy sets no minimum: no gate
    assert run(["ready", "support-assistant", "--min-score", "22.4"]) == 0
    capsys.readouterr()
    assert run(["ready", "support-assistant", "--min-score", "22.5", "--format", "json"]) == 1
    card = json.loads(capsys.readouterr().out)
    assert card["score"] == 22.4 and card["meetsMinimum"] is False
    assert card["stage"] == "design"
    # the policy requires approvals before production (risk.policy); nothing else moved
    assert [d["score"] for d in card["dimensions"]] == [0, 42, 0, 20, 50]
    assert card["findings"][0] == {
        "dimension": "data",
        "check": "data.quality",
        "cost": 35,
        "message": "no data.quality check recorded for any run or release",
        "fix": "run the data quality check in the pipeline and record it: keel evidence add "
        "support-assistant --run RUN (or --release MODEL@N) --track data --check quality "
        "--result pass",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ready", "nope"], "error: no such entity system:default/nope\n"),
        (
            ["ready", "model:credit-scorer"],
            "error: 'model:credit-scorer' is a Model, not a System\n",
        ),
        (
            ["ready", "credit-decisioning", "--min-score", "high"],
            "error: --min-score 'high': a number from 0 to 100\n",
        ),
        (
            ["ready", "credit-decisioning", "--min-score", "101"],
            "error: --min-score '101': a number from 0 to 100\n",
        ),
        (
            ["ready", "credit-decisioning", "--format", "xml"],
            "error: --format 'xml': one of text, json\n",
        ),
        (["stage", "show", "nope"], "error: no such entity system:default/nope\n"),
        (
            ["review", "credit-decisioning", "--kind", "ethics", "--as", "dara.kim"],
            "error: a review is one of privacy, legal, security, not 'ethics'\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home, capsys, args, message):
    capsys.readouterr()
    assert run(args) == 2
    assert capsys.readouterr().err == message


def test_review_as_the_named_reviewer_only(home, capsys):
    assert run(["review", "credit-decisioning", "--kind", "privacy"]) == 3  # ana.lima
    assert "may not clear the privacy review" in capsys.readouterr().err
    assert run(["review", "credit-decisioning", "--kind", "privacy", "--as", "chen.wu"]) == 0
    assert run(["review", "credit-decisioning", "--kind", "legal", "--as", "dara.kim"]) == 0
    capsys.readouterr()
    assert run(["review", "credit-decisioning", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["reviewer"]) for r in listed] == [
        ("privacy", "user:default/chen.wu"),
        ("legal", "user:default/dara.kim"),
    ]
    assert run(["ready", "credit-decisioning", "--format", "json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["dimensions"][3]["score"] == 80


def test_stage_show_and_advance(home, capsys):
    capsys.readouterr()
    assert run(["stage", "show", "credit-decisioning"]) == 0
    out = capsys.readouterr().out
    assert "system:default/credit-decisioning: design (Design & alignment)" in out
    assert "✓ design.map" in out and "✓ design.pod" in out

    assert run(["stage", "advance", "credit-decisioning", "--to", "validate"]) == 2
    assert "stages are never skipped" in capsys.readouterr().err
    assert run(["stage", "advance", "credit-decisioning", "--to", "build"]) == 0
    assert "moved from design to build" in capsys.readouterr().out
    assert run(["stage", "advance", "credit-decisioning", "--format", "json"]) == 1
    refused = json.loads(capsys.readouterr().out)
    assert refused["allowed"] is False and refused["from"] == "build"
    assert refused["missing"] == [
        "build.evidence: no release of any model of the system yet (keel release create)"
    ]
    assert run(["stage", "advance", "support-assistant", "--as", "fatima.haddad"]) == 1
    out = capsys.readouterr().out
    assert "stays in design" in out and "riskLead: nobody named" in out
    assert run(["stage", "advance", "support-assistant", "--as", "dara.kim"]) == 3
    assert run(["audit", "log", "--format", "json"]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions.count("readiness.stage.advanced") == 1
    assert actions.count("readiness.advance.refused") == 3  # not dara.kim: outside the pod


def test_keel_ready_imports_nothing_heavy(home):
    """The readiness path stays light: no scikit-learn, numpy, scipy, web server or Alembic."""
    probe = (
        "import sys, contextlib, io\n"
        "from keel.cli.main import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert run(['ready', 'credit-decisioning']) == 0\n"
        "heavy = ('sklearn', 'numpy', 'scipy', 'fastapi', 'uvicorn', 'alembic', 'skops')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
