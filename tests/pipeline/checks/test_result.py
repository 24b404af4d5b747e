"""CheckResult holds plain, finite, canonical-JSON-safe data whatever it was built from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.pipeline.checks import CheckResult
from tests.pipeline.checks.conftest import evidence


def test_numpy_numbers_become_plain_floats():
    result = CheckResult(
        "model",
        "fairness",
        "pass",
        figures={"count[a]": np.int64(3), "rate": np.float32(0.5)},
        log=["ok"],
        thresholds={"max": np.float64(0.1)},
    )
    record = evidence(result)
    assert record["figures"] == {"count[a]": 3.0, "rate": 0.5}
    assert record["thresholds"] == {"max": 0.1}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_a_figure_that_is_not_finite_is_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        CheckResult("eval", "evaluation", "pass", figures={"auc": bad})


def test_track_and_result_are_closed_sets():
    with pytest.raises(ValueError, match="track"):
        CheckResult("ops", "x", "pass")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="result"):
        CheckResult("data", "x", "ok")  # type: ignore[arg-type]


def test_the_callers_dicts_do_not_leak_in_later():
    figures = {"a": 1.0}
    result = CheckResult("data", "quality", "pass", figures=figures, log=["x"])
    figures["a"] = 2.0
    assert result.figures == {"a": 1.0}


@given(
    st.dictionaries(
        st.text(), st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**15), 10**15)
    ),
    st.dictionaries(st.text(), st.text()),
    st.lists(st.text(), min_size=1),
)
def test_as_dict_is_always_canonical_json(figures, inputs, log):
    evidence(CheckResult("data", "provenance", "fail", figures, inputs, log, figures))
