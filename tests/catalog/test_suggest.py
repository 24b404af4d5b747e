"""The nearest-name suggestion: one edit away, against a naive edit-distance reference."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.catalog.suggest import missing, nearest, one_edit_apart
from keel.cli.main import run
from tests.conftest import EXAMPLES


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook table (the reference)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@given(st.text("abc-", max_size=7), st.text("abc-", max_size=7))
def test_one_edit_apart_agrees_with_the_reference(a, b):
    assert one_edit_apart(a, b) == (_distance(a, b) == 1)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("system:default/credit-riks", "system:default/credit-risk"),  # two letters swapped
        ("system:default/credit-rsk", "system:default/credit-risk"),  # one dropped
        ("system:default/credit-risks", "system:default/credit-risk"),  # one added
        ("system:default/credit-rusk", "system:default/credit-risk"),  # one changed
        ("system:other/credit-risk", None),  # another namespace
        ("api:default/credit-risk", None),  # another kind
        ("system:default/credit", None),  # too far
    ],
)
def test_nearest_is_one_edit_of_the_same_kind_and_namespace(typed, expected):
    keys = ["system:default/credit-risk", "system:default/support", "api:default/support-api"]
    assert nearest(typed, keys) == expected


def test_two_names_as_near_suggest_neither():
    keys = ["system:default/cat", "system:default/car"]
    assert nearest("system:default/cab", keys) is None
    assert "did you mean" not in str(missing("system:default/cab", keys))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["ready", "credit-decisoning"],
        ["pod", "show", "credit-decisionign"],
        ["map", "validate", "--system", "credit-decisionin"],
        ["stage", "show", "credit-decisioningg"],
    ],
)
def test_commands_suggest_the_nearest_system_in_one_line(home, capsys, argv):
    capsys.readouterr()
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("did you mean credit-decisioning?\n"), err


def test_impact_of_a_name_without_a_kind_suggests_the_key(home, capsys):
    capsys.readouterr()
    assert run(["map", "impact", "german-credt"]) == 2
    assert "did you mean datasource:default/german-credit?" in capsys.readouterr().err
