"""Robustness per build: noise, missing values and out-of-range inputs on the real scorer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from keel.demo import credit
from keel.errors import InputError
from keel.pipeline.checks import robustness
from tests.pipeline.checks.conftest import evidence


def check(real, predict, **kwargs):
    return robustness(
        predict,
        real.X_test,
        numeric_columns=real.numeric,
        categorical_columns=real.categorical,
        column_names=credit.COLUMNS,
        reference=real.X_train,
        **kwargs,
    )


def test_the_real_scorer_is_steady_under_noise_and_out_of_range_inputs(real):
    result = check(real, real.scorer.predict_proba, perturbations=("noise", "out_of_range"))
    record = evidence(result)
    assert result.result == "pass", result.log
    assert record["figures"]["stability[noise]"] >= 0.95
    assert record["figures"]["answered[out_of_range]"] == 1.0
    assert "stability[out_of_range:credit_amount high]" in record["figures"]
    assert "stability[out_of_range:purpose unseen]" in record["figures"]
    assert any("not tried: missing" in line for line in record["log"])


def test_the_real_scorer_cannot_take_a_missing_number_and_that_is_the_finding(real):
    result = check(real, real.scorer.predict)
    record = evidence(result)
    assert result.result == "fail"
    # the seven numeric columns raise; the thirteen categorical ones answer (unknown category)
    assert record["figures"]["answered[missing]"] == pytest.approx(13 / 20)
    assert any("with age missing the model raises ValueError" in line for line in record["log"])
    assert "stability[missing:checking_status]" in record["figures"]
    assert "stability[missing:age]" not in record["figures"]


def test_a_model_that_imputes_answers_every_perturbation(real):
    numeric, categorical = real.numeric, real.categorical
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(strategy="median"), numeric),
                        (
                            "cat",
                            make_pipeline(
                                SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("model", HistGradientBoostingClassifier(random_state=0, max_iter=50)),
        ]
    )
    model.fit(real.X_train, real.y_train)
    result = check(real, model.predict)
    record = evidence(result)
    assert result.result == "pass", result.log
    assert record["figures"]["answered[missing]"] == 1.0
    assert 0 < record["figures"]["lowest_stability[missing]"] <= 1


def test_a_tighter_stability_bar_than_the_model_meets_fails(real):
    result = check(
        real, real.scorer.predict, perturbations=("noise",), noise=0.5, min_stability=0.99
    )
    evidence(result)
    assert result.result == "fail"
    assert result.figures["stability[noise]"] < 0.99
    assert result.thresholds == {"min_stability": 0.99, "noise": 0.5}


def test_the_same_seed_gives_the_same_figures(real):
    one = check(real, real.scorer.predict, perturbations=("noise",), noise=0.3, seed=5)
    two = check(real, real.scorer.predict, perturbations=("noise",), noise=0.3, seed=5)
    assert one.figures == two.figures


def test_a_model_answering_nan_or_impossible_probabilities_fails():
    X = np.arange(40, dtype=float).reshape(20, 2)
    high = X.max()

    def proba(rows):
        p = np.full((len(rows), 2), 0.5)
        p[(rows > high).any(axis=1)] = [1.5, -0.5]  # out of range: not probabilities
        p[np.isnan(rows).any(axis=1)] = np.nan
        return p

    result = robustness(proba, X, numeric_columns=[0, 1], reference=X)
    evidence(result)
    assert result.result == "fail"
    assert result.figures["answered[missing]"] == 0.0
    assert result.figures["answered[out_of_range]"] == 0.5  # only the low side answers
    assert any("gives 20 invalid answers" in line for line in result.log)


def test_a_model_that_cannot_answer_at_all_is_an_error():
    def broken(rows):
        raise RuntimeError("weights not loaded\nsecond line")

    result = robustness(broken, np.zeros((3, 2)), numeric_columns=[0])
    assert result.result == "error"
    assert evidence(result)["log"] == [
        "the model cannot answer the undisturbed rows: RuntimeError: weights not loaded"
    ]


def test_a_jittery_model_fails_noise():
    X = np.linspace(0, 1, 200).reshape(100, 2)
    result = robustness(lambda rows: (rows[:, 0] * 1e4).astype(int) % 2, X, numeric_columns=[0, 1])
    assert result.result == "fail"
    assert result.figures["stability[noise]"] < 0.95


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"numeric_columns": [5]}, "column indexes"),
        ({"numeric_columns": [0], "perturbations": ("wind",)}, "unknown perturbation wind"),
        ({"numeric_columns": [0], "column_names": ["a"]}, "1 names for 2 columns"),
        ({"numeric_columns": [0], "reference": np.zeros((3, 3))}, "same 2 columns"),
        ({"numeric_columns": [0], "reference": np.array([["x", 1]], dtype=object)}, "non-numbers"),
    ],
)
def test_bad_arguments_are_refused(kwargs, reason):
    with pytest.raises(InputError, match=reason):
        robustness(lambda rows: np.zeros(len(rows)), np.zeros((3, 2)), **kwargs)


def test_int_arrays_make_room_for_missing_values():
    X = np.arange(20).reshape(10, 2)
    result = robustness(
        lambda rows: np.isnan(rows).any(axis=1).astype(int), X, numeric_columns=[0, 1]
    )
    assert result.figures["stability[missing:0]"] == 0.0  # every answer changed, validly
    assert result.figures["answered[missing]"] == 1.0
