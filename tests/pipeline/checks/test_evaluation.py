"""Evaluation against the baseline on held-out data: the real scorer against the scorecard."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from keel.errors import InputError
from keel.pipeline.checks import evaluation
from keel.pipeline.checks.evaluation import rank_auc
from tests.pipeline.checks.conftest import evidence


@pytest.fixture(scope="module")
def scores(real) -> tuple[np.ndarray, np.ndarray]:
    """P(bad credit) on the held-out quarter: the scorer's (candidate), the scorecard's (baseline)."""
    return (
        real.scorer.predict_proba(real.X_test)[:, 1],
        real.scorecard.predict_proba(real.X_test)[:, 1],
    )


def test_the_scorer_holds_against_the_scorecard_within_the_allowed_drop(real, scores):
    candidate, baseline = scores
    result = evaluation(real.y_test, candidate, baseline)
    figures = evidence(result)["figures"]
    assert result.result == "pass", result.log
    assert figures["roc_auc[candidate]"] == pytest.approx(roc_auc_score(real.y_test, candidate))
    assert figures["roc_auc[baseline]"] == pytest.approx(roc_auc_score(real.y_test, baseline))
    assert figures["difference"] == pytest.approx(
        figures["roc_auc[candidate]"] - figures["roc_auc[baseline]"]
    )
    assert figures["difference_ci_low"] < figures["difference"] < figures["difference_ci_high"]
    assert figures["rows"] == 250.0 and figures["positives"] == 75.0


def test_a_tighter_allowed_drop_than_the_gap_fails(real, scores):
    candidate, baseline = scores
    gap = roc_auc_score(real.y_test, baseline) - roc_auc_score(real.y_test, candidate)
    assert gap > 0  # on this split the scorecard ranks slightly better
    result = evaluation(real.y_test, candidate, baseline, max_drop=gap / 2)
    assert result.result == "fail"
    assert "beyond the allowed drop" in evidence(result)["log"][-1]


def test_a_degraded_candidate_fails(real, scores):
    _, baseline = scores
    noisy = baseline + np.random.default_rng(0).normal(0, 0.5, len(baseline))
    result = evaluation(real.y_test, noisy, baseline)
    evidence(result)
    assert result.result == "fail"
    assert result.figures["difference_ci_high"] < 0  # clearly worse, not chance


def test_a_first_release_passes_and_says_there_is_no_baseline(real, scores):
    result = evaluation(real.y_test, scores[0], None)
    record = evidence(result)
    assert result.result == "pass"
    assert "roc_auc[baseline]" not in record["figures"]
    low, high = (
        record["figures"]["roc_auc_ci_low[candidate]"],
        record["figures"]["roc_auc_ci_high[candidate]"],
    )
    assert low < record["figures"]["roc_auc[candidate]"] < high
    assert "no baseline" in record["log"][-1]


def test_the_interval_is_reproducible_with_its_seed(real, scores):
    one = evaluation(real.y_test, *scores, seed=3)
    assert one.figures == evaluation(real.y_test, *scores, seed=3).figures
    assert one.figures != evaluation(real.y_test, *scores, seed=4).figures


def test_one_class_is_an_error():
    result = evaluation([1, 1, 1], [0.2, 0.5, 0.9], [0.1, 0.1, 0.1])
    assert result.result == "error"
    assert "both classes" in evidence(result)["log"][0]


def test_nan_scores_are_an_error():
    result = evaluation([0, 1], [0.2, np.nan], [0.1, 0.9])
    assert result.result == "error"
    evidence(result)


def test_tiny_data_still_answers_without_an_interval():
    result = evaluation([0, 1], [0.2, 0.8], [0.3, 0.4])
    evidence(result)
    assert result.result == "pass"


@pytest.mark.parametrize(
    "args, kwargs, reason",
    [
        (([0, 1], [0.1, 0.2], None), {"metric": "accuracy"}, "unknown metric"),
        (([0, 1], [0.1], None), {}, "one length"),
        (([0, 1], [0.1, 0.2], [0.3]), {}, "one length"),
    ],
)
def test_bad_arguments_are_refused(args, kwargs, reason):
    with pytest.raises(InputError, match=reason):
        evaluation(*args, **kwargs)


@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=40).filter(
        lambda rows: len({y for y, _ in rows}) == 2
    )
)
def test_the_rank_form_of_auc_is_sklearns_including_ties(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], dtype=float)  # few distinct values: many ties
    assert rank_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    stacked = rank_auc(np.stack([y, y]), np.stack([s, -s]))
    assert stacked == pytest.approx([roc_auc_score(y, s), roc_auc_score(y, -s)])
