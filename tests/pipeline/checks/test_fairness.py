"""Fairness per build, on the real credit scorer's held-out predictions and on made-up ones.

In the demo, 1 is a bad credit: the selection rate is the share of a group the model flags
as a bad risk, i.e. would decline.
"""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from keel.demo import credit
from keel.errors import InputError
from keel.pipeline.checks import fairness
from tests.conftest import GERMAN_CREDIT
from tests.pipeline.checks.conftest import evidence


def test_the_real_scorer_by_sex_fails_the_default_bar_and_passes_a_looser_policy(real):
    y_pred = real.scorer.predict(real.X_test)
    sex = credit.sex_of(real.X_test)
    strict = fairness(real.y_test, y_pred, sex, attribute="sex")
    record = evidence(strict)
    figures = record["figures"]
    assert strict.result == "fail"  # women are flagged 0.28 vs men 0.17: parity difference 0.11
    assert figures["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(real.y_test, y_pred, sensitive_features=sex)
    )
    assert figures["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(real.y_test, y_pred, sensitive_features=sex)
    )
    for group in ("female", "male"):
        rows = sex == group
        assert figures[f"count[{group}]"] == rows.sum()
        assert figures[f"accuracy[{group}]"] == pytest.approx(
            np.mean(y_pred[rows] == real.y_test[rows])
        )
    assert figures["count[female]"] + figures["count[male]"] == len(real.y_test)
    assert any(
        "demographic parity difference" in line and "exceeds 0.1" in line for line in strict.log
    )

    loose = fairness(
        real.y_test,
        y_pred,
        sex,
        attribute="sex",
        max_demographic_parity_difference=0.15,
        max_equalized_odds_difference=0.15,
    )
    assert loose.result == "pass"
    assert loose.thresholds["max_demographic_parity_difference"] == 0.15


def test_the_real_scorer_by_age_group_fails(real):
    y_pred = real.scorer.predict(real.X_test)
    result = fairness(real.y_test, y_pred, credit.age_group(real.X_test), attribute="age group")
    evidence(result)
    assert result.result == "fail"
    # the young are flagged far more often than the rest
    assert (
        result.figures["selection_rate[under 25]"] > result.figures["selection_rate[25 and over]"]
    )
    assert result.inputs == {"attribute": "age group"}


def test_a_classifier_that_declines_by_group_fails():
    rng = np.random.default_rng(1)
    group = np.array(["a", "b"] * 200, dtype=object)
    y_true = rng.integers(0, 2, 400)
    y_pred = np.where(group == "a", 1, y_true)  # group a always flagged, b judged on merit
    result = fairness(y_true, y_pred, group)
    evidence(result)
    assert result.result == "fail"
    assert result.figures["demographic_parity_difference"] > 0.4
    assert result.figures["accuracy[b]"] == 1.0


def test_a_classifier_blind_to_group_passes():
    group = np.array(["a", "b"] * 200, dtype=object)
    y_true = np.array([0, 0, 1, 1] * 100)
    result = fairness(y_true, y_true.copy(), group)
    assert result.result == "pass"
    assert result.figures["demographic_parity_difference"] == 0.0


def test_one_group_only_is_an_error_saying_so():
    result = fairness([0, 1], [0, 1], ["a", "a"], attribute="sex")
    assert result.result == "error"
    assert "only one group" in evidence(result)["log"][0]


def test_a_group_with_one_true_class_makes_equalized_odds_an_error():
    result = fairness([1, 0, 0, 0], [1, 0, 1, 0], ["a", "a", "b", "b"])
    assert result.result == "error"
    assert "group b has only one true class" in evidence(result)["log"][0]
    assert "demographic_parity_difference" in result.figures


def test_labels_fairlearn_cannot_read_are_an_error():
    result = fairness(["x", "y", "x", "y"], ["x", "y", "y", "x"], ["a", "a", "b", "b"])
    assert result.result == "error"
    assert "could not be measured" in evidence(result)["log"][0]


def test_lengths_must_agree():
    with pytest.raises(InputError):
        fairness([0, 1], [0], ["a", "b"])


def test_the_demo_attributes_read_the_german_credit_codes():
    X, _ = credit.load(GERMAN_CREDIT)
    sex, age = credit.sex_of(X), credit.age_group(X)
    codes = X[:, credit.COLUMNS.index("personal_status_sex")]
    assert (sex == "female").sum() == np.isin(codes, ["A92", "A95"]).sum() == 310
    assert (sex == "male").sum() == 690
    ages = X[:, credit.COLUMNS.index("age")].astype(float)
    assert (age == "under 25").sum() == (ages < 25).sum() > 0
    assert set(credit.age_group(X, cut=30)) == {"under 30", "30 and over"}
    odd = X[:2].copy()
    odd[:, credit.COLUMNS.index("personal_status_sex")] = "A99"
    assert list(credit.sex_of(odd)) == ["unknown", "unknown"]
