"""`keel release` and `keel attest` end to end, on a real German Credit model."""

from __future__ import annotations

import json

import pytest

from keel.cli.main import run
from tests.conftest import EXAMPLES, GERMAN_CREDIT
from tests.servers import serving


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # not a git repository: no commit is guessed
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    return tmp_path


def _create(artifact, *extra):
    return run(
        [
            "release",
            "create",
            "credit-decisioning",
            "--model",
            "credit-scorer",
            "--artifact",
            str(artifact),
            "--data",
            f"german-credit={GERMAN_CREDIT}",
            *extra,
        ]
    )


def test_create_show_list_verify_bom(home, capsys, credit_artifacts):
    artifact = credit_artifacts["credit-scorer"]
    junit = home / "junit.xml"
    junit.write_text('<testsuite name="unit"><testcase name="a"/><testcase name="b"/></testsuite>')
    bench = home / "bench.json"
    bench.write_text('{"ROC AUC": 0.8}')
    out = home / "r.intoto.jsonl"
    code = _create(
        artifact,
        "--commit",
        "b" * 40,
        "--param",
        "seed=7",
        "--param",
        "architecture=GradientBoostingClassifier",
        "--tests",
        str(junit),
        "--bench",
        str(bench),
        "--log",
        str(junit),
        "--started",
        "2026-11-25T10:00:00",
        "-o",
        str(out),
    )
    assert code == 0, capsys.readouterr().err
    assert "released credit-scorer@1" in capsys.readouterr().out

    assert run(["release", "show", "credit-scorer@1", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    provenance = shown["statements"]["https://slsa.dev/provenance/v1"]
    assert provenance["buildDefinition"]["externalParameters"]["parameters"] == {
        "seed": 7,
        "architecture": "GradientBoostingClassifier",
    }
    assert provenance["runDetails"]["metadata"]["startedOn"] == "2026-11-25T10:00:00Z"
    assert provenance["runDetails"]["byproducts"][0]["name"] == "junit.xml"
    release = shown["statements"]["https://keel.dev/attestation/release/v1"]
    assert release["tests"][0]["passed"] == 2

    assert run(["release", "list", "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == [
        "model:default/credit-scorer@1"
    ]

    assert run(["attest", "verify", str(out), "--artifact", str(artifact)]) == 0
    assert "verified" in capsys.readouterr().out
    assert (
        run(["attest", "verify", str(out), "--artifact", str(credit_artifacts["credit-scorecard"])])
        == 1
    )
    assert "NOT verified" in capsys.readouterr().out

    assert run(["audit", "pubkey"]) == 0
    keyfile = home / "keel.pub"
    keyfile.write_text(capsys.readouterr().out)
    assert run(["attest", "verify", str(out), "--key", str(keyfile), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] and "offline: the live log was not consulted" in report["checks"]

    assert run(["attest", "get", "credit-scorer@1", "-o", str(home / "again.jsonl")]) == 0
    assert (home / "again.jsonl").read_bytes() == out.read_bytes()
    assert run(["attest", "bom", "credit-scorer@1", "-o", str(home / "bom.json")]) == 0
    bom = json.loads((home / "bom.json").read_text())
    assert bom["specVersion"] == "1.6" and "modelCard" in bom["metadata"]["component"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "novalue"], "--param 'novalue': write KEY=VALUE"),
        (["--started", "last tuesday"], "not an ISO 8601 time"),
        (["--tests", "missing.xml"], "no such file"),
        (["--data", "ticket-history=x"], "not upstream"),
        (["--commit", "xyz"], "is not a git commit hash"),
        (["--param", "a=1e999"], "numbers must be finite"),
        (["--started", "0001-01-01T00:00:00+05:00"], "not an ISO 8601 time"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home, capsys, credit_artifacts, extra, message):
    assert _create(credit_artifacts["credit-scorer"], *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert run(["release", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_verify_refuses_missing_files_and_bad_keys(home, capsys, tmp_path):
    assert run(["attest", "verify", str(tmp_path / "none.jsonl")]) == 2
    bundle = tmp_path / "b.jsonl"
    bundle.write_text("garbage\n")
    assert run(["attest", "verify", str(bundle)]) == 1
    assert "envelope 1" in capsys.readouterr().out
    assert run(["attest", "verify", str(bundle), "--key", "nonsense"]) == 2
    assert "--key nonsense" in capsys.readouterr().err


def test_evidence_approve_promote_where(home, capsys, credit_artifacts):
    assert _create(credit_artifacts["credit-scorer"]) == 0
    refused = run(["release", "promote", "credit-scorer@1", "--to", "staging"])
    assert refused == 1
    out = capsys.readouterr().out
    assert "refused" in out and "evidence data.provenance" in out
    for track, check, extra in (
        ("data", "provenance", []),
        ("data", "consent", []),
        ("data", "quality", []),
        (
            "model",
            "fairness-sex",
            [
                "--figure",
                "demographic_parity_difference=0.03",
                "--figure",
                "equalized_odds_difference=0.1",
            ],
        ),
        (
            "model",
            "fairness-age",
            [
                "--figure",
                "demographic_parity_difference=0.03",
                "--figure",
                "equalized_odds_difference=0.1",
            ],
        ),
        ("model", "robustness", ["--figure", "stability[noise]=0.99"]),
        ("feature", "ownership", []),
        ("eval", "evaluation", []),
    ):
        code = run(
            [
                "evidence",
                "add",
                "credit-decisioning",
                "--release",
                "credit-scorer@1",
                "--track",
                track,
                "--check",
                check,
                "--result",
                "pass",
                "--as",
                "chen.wu",  # a pipeline identity, not the author (separation of duties)
                *extra,
            ]
        )
        assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert run(["evidence", "list", "--release", "credit-scorer@1", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 8
    assert run(["release", "approve", "credit-scorer@1", "--role", "mlEngineer"]) == 3  # author
    assert "may not approve it" in capsys.readouterr().err
    code = run(
        ["release", "approve", "credit-scorer@1", "--role", "mlEngineer", "--as", "ivo.costa"]
    )
    assert code == 0
    assert run(["release", "promote", "credit-scorer@1", "--to", "staging"]) == 0
    assert "now serves staging" in capsys.readouterr().out
    assert run(["release", "show", "credit-scorer@1"]) == 0
    shown = capsys.readouterr().out
    assert "staging: ready" in shown and "production: missing" in shown
    assert run(["release", "where", "credit-decisioning", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["release"] == "model:default/credit-scorer@1"
    assert run(["release", "where", "credit-decisioning", "--at", "2001-01-01"]) == 0
    assert "nothing promoted" in capsys.readouterr().out
    assert run(["audit", "log", "--format", "json"]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert "pipeline.promotion.refused" in actions and "pipeline.approval.refused" in actions


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["release", "promote", "credit-scorer@7", "--to", "staging"], "no release"),
        (["release", "approve", "credit-scorer@1", "--role", "boss"], "unknown pod role"),
        (["evidence", "add", "credit-decisioning", "--track", "model"], "name one"),
        (["evidence", "add", "nowhere", "--run", "x", "--track", "model"], "no such entity"),
        (["release", "where", "credit-decisioning", "--at", "soon"], "not an ISO 8601 time"),
        (
            ["release", "where", "credit-decisioning", "--at", "0001-01-01T00:00:00+05:00"],
            "not an ISO 8601 time",
        ),
        (["attest", "verify", "/etc/hostname", "--key", "/bin/ls"], "not a file of verifier keys"),
    ],
)
def test_governance_mistakes_are_one_line(home, capsys, credit_artifacts, argv, message):
    assert _create(credit_artifacts["credit-scorer"]) == 0
    capsys.readouterr()
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_in_server_mode_approvals_and_promotions_go_through_the_api(
    home, capsys, credit_artifacts, monkeypatch
):

    from keel.api import create_app
    from keel.config import load_settings

    assert _create(credit_artifacts["credit-scorer"]) == 0
    tokens = {}
    for user, role in (("ivo.costa", "editor"), ("ana.lima", "admin"), ("dara.kim", "editor")):
        assert run(["token", "create", "--user", user, "--role", role]) == 0
        tokens[user] = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["workspace", "mode", "server"]) == 0
    with serving(create_app(load_settings())) as url:
        assert run(["release", "approve", "credit-scorer@1", "--role", "mlEngineer"]) == 2
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", tokens["ivo.costa"])
        capsys.readouterr()
        assert run(["release", "approve", "credit-scorer@1", "--role", "mlEngineer"]) == 0
        assert "user:default/ivo.costa approved" in capsys.readouterr().out
        monkeypatch.setenv("KEEL_TOKEN", tokens["ana.lima"])
        assert run(["release", "promote", "credit-scorer@1", "--to", "staging"]) == 1
        out = capsys.readouterr().out
        assert "refused" in out and "evidence data.provenance" in out
        assert run(["stage", "advance", "credit-decisioning"]) == 0
        assert "moved from design to build" in capsys.readouterr().out
        assert run(["stage", "advance", "credit-decisioning"]) == 1  # no evidence yet
        assert "refused" in capsys.readouterr().out
        monkeypatch.setenv("KEEL_TOKEN", tokens["ivo.costa"])
        evidence = ["evidence", "add", "credit-decisioning", "--release", "credit-scorer@1"]
        assert run([*evidence, "--track", "data", "--check", "quality", "--result", "pass"]) == 0
        assert "recorded data.quality: pass" in capsys.readouterr().out
        monkeypatch.setenv("KEEL_TOKEN", tokens["dara.kim"])
        assert run(["review", "credit-decisioning", "--kind", "security"]) == 0
        assert "dara.kim cleared the security review" in capsys.readouterr().out


def test_the_authors_own_evidence_is_flagged_at_once_and_in_show(home, capsys, credit_artifacts):
    """ana.lima creates the release; what she records on it herself does not count where a
    policy separates duties: said when recorded, and beside it in `release show`."""
    assert _create(credit_artifacts["credit-scorer"]) == 0
    capsys.readouterr()
    argv = ["evidence", "add", "credit-decisioning", "--release", "credit-scorer@1"]
    argv += ["--track", "data", "--check", "quality", "--result", "pass", "--format", "json"]
    assert run(argv) == 0
    captured = capsys.readouterr()
    assert "does not count" in captured.err and "separation of duties" in captured.err
    assert json.loads(captured.out)["counts"] is False
    assert run([*argv[:-2], "--as", "chen.wu"]) == 0  # a pipeline identity: it counts
    assert "warning" not in capsys.readouterr().err
    assert run(["release", "show", "credit-scorer@1"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "data.quality" in ln]
    assert len(lines) == 2 and sum("does not count" in ln for ln in lines) == 1


def test_a_result_outside_the_choices_is_one_line_naming_them(home, capsys, credit_artifacts):
    assert _create(credit_artifacts["credit-scorer"]) == 0
    capsys.readouterr()
    argv = ["evidence", "add", "credit-decisioning", "--release", "credit-scorer@1"]
    assert run([*argv, "--track", "data", "--check", "quality", "--result", "maybe"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --result 'maybe': one of pass, fail, error\n" and "pattern" not in err
    evidence = home / "e.json"
    evidence.write_text('{"track": "data", "check": "quality", "result": "maybe"}')
    assert run([*argv, "--file", str(evidence)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'pass', 'fail' or 'error'" in err, err
