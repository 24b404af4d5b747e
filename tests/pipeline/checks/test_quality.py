"""Declarative expectations: strict parsing, and counting what breaks them in a table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.demo import credit
from keel.errors import InputError
from keel.pipeline.checks import Expectation, columns_of, parse_expectations, quality
from tests.conftest import GERMAN_CREDIT
from tests.pipeline.checks.conftest import evidence

GERMAN_EXPECTATIONS = """
- columns: [checking_status, duration, credit_history, purpose, credit_amount, savings,
            employment_since, installment_rate, personal_status_sex, other_debtors,
            residence_since, property, age, other_installment_plans, housing,
            existing_credits, job, people_liable, telephone, foreign_worker]
- {column: age, not_null: true, type: integer, min: 18, max: 100}
- {column: duration, type: number, min: 1, max: 120}
- {column: credit_amount, not_null: true, min: 0}
- {column: purpose, in: [A40, A41, A410, A42, A43, A44, A45, A46, A47, A48, A49]}
- {column: personal_status_sex, in: [A91, A92, A93, A94, A95]}
- {column: telephone, max_null_fraction: 0.01}
"""


@pytest.fixture(scope="module")
def german() -> dict:
    X, _ = credit.load(GERMAN_CREDIT)
    return columns_of(X, credit.COLUMNS)


def test_german_credit_meets_its_expectations(german):
    result = quality(german, parse_expectations(yaml.safe_load(GERMAN_EXPECTATIONS)))
    record = evidence(result)
    assert result.result == "pass", result.log
    assert record["figures"]["rows"] == 1000.0
    assert record["figures"]["violations[age]"] == 0.0
    assert record["thresholds"]["min[age]"] == 18.0


def test_a_tighter_age_floor_fails_counting_the_rows(german):
    ages = np.array(german["age"], dtype=float)
    result = quality(german, parse_expectations([{"column": "age", "min": 25}]))
    evidence(result)
    assert result.result == "fail"
    assert result.figures["violations[age]"] == float((ages < 25).sum()) > 0
    assert any(f"{int((ages < 25).sum())} below 25" in line for line in result.log)


def test_schema_counts_missing_and_unexpected_columns(german):
    expected = [c for c in credit.COLUMNS if c != "telephone"] + ["income"]
    result = quality(german, parse_expectations([{"columns": expected}]))
    assert result.result == "fail"
    assert result.figures["violations[schema]"] == 2.0
    assert "missing income; unexpected telephone" in evidence(result)["log"][0]


def test_nulls_types_and_values_each_count():
    table = {
        "x": [1.0, None, math.nan, "7", 12.0],
        "kind": ["a", "b", "z", None, "a"],
    }
    expectations = parse_expectations(
        [
            {"column": "x", "not_null": True, "type": "number", "max": 10},
            {"column": "x", "max_null_fraction": 0.2},
            {"column": "kind", "in": ["a", "b"]},
            {"column": "absent"},
        ]
    )
    result = quality(table, expectations)
    evidence(result)
    assert result.result == "fail"
    # x: two nulls, "7" not a number (nor under max), 12 above max -> 4 rows
    assert result.figures["violations[x]"] == 4.0
    # two nulls of five is 0.4; 0.2 allows one: one too many
    assert result.figures["violations[x#2]"] == 1.0
    assert result.figures["null_fraction[x#2]"] == pytest.approx(0.4)
    assert result.figures["violations[kind]"] == 1.0  # null is not judged by `in`
    assert result.figures["violations[absent]"] == 5.0


def test_numpy_columns_are_read_as_well():
    table = {"score": np.array([0.1, 0.5, np.nan]), "n": np.array([1, 2, 3])}
    expectations = parse_expectations(
        [
            {"column": "score", "min": 0, "max": 1},
            {"column": "n", "type": "integer", "not_null": True},
        ]
    )
    result = quality(table, expectations)
    assert result.result == "pass", result.log


def test_no_expectations_show_nothing():
    assert quality({"a": [1]}, []).result == "fail"


@pytest.mark.parametrize(
    "table, reason",
    [
        ([1, 2], "maps column names"),
        ({"a": "abc"}, "a sequence of values"),
        ({"a": [1, 2], "b": [1]}, "differ in length"),
        ({"a": np.zeros((2, 2))}, "one-dimensional"),
    ],
)
def test_a_table_that_is_not_one_is_refused(table, reason):
    with pytest.raises(InputError, match=reason):
        quality(table, [Expectation(column="a")])


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"column": "a"}, "expectations: a list of mappings, not a mapping"),
        (["age"], "expectations[0]: a mapping, not a string"),
        ([{"column": "a", "maximum": 3}], "expectations[0].maximum: unknown key"),
        ([{"min": 3}], "needs exactly one of column (rules) or columns (schema)"),
        ([{"column": "a", "columns": ["a"]}], "needs exactly one of"),
        ([{"columns": ["a"], "not_null": True}], "a schema expectation takes only columns"),
        ([{"columns": "a"}], "expectations[0].columns: a list of column names"),
        ([{"columns": ["a", "a"]}], "names a column twice"),
        ([{"column": ""}], "expectations[0].column: a column name"),
        ([{"column": "a", "not_null": "yes"}], "not_null: true or false, not a string"),
        ([{"column": "a", "min": True}], "min: a number, not a boolean"),
        ([{"column": "a", "max": "9"}], "max: a number, not a string"),
        ([{"column": "a", "max": math.inf}], "max: a finite number"),
        ([{"column": "a", "min": 10**400}], "min: a finite number"),
        ([{"column": "a", "min": 5, "max": 1}], "min: 5 is above max 1"),
        ([{"column": "a", "type": "float"}], "type: one of number, integer, string, boolean"),
        ([{"column": "a", "type": "string", "min": 1}], "min and max need numbers"),
        ([{"column": "a", "max_null_fraction": 1.5}], "a fraction between 0 and 1"),
        ([{"column": "a", "in": []}], "in: a non-empty list"),
        ([{"column": "a", "in": [[1]]}], "in: a non-empty list"),
    ],
)
def test_bad_expectations_get_one_line_each(data, problem):
    with pytest.raises(InputError) as caught:
        parse_expectations(data)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(InputError) as caught:
        parse_expectations([{"column": "a", "min": "x", "type": "?"}, {"bogus": 1}])
    assert len(caught.value.problems) == 3


# -- properties ---------------------------------------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
expectation_like = st.dictionaries(
    st.sampled_from(
        ["column", "columns", "not_null", "max_null_fraction", "type", "min", "max", "in", "other"]
    ),
    json_like | st.sampled_from(["age", "number", "integer", "string", "boolean"]),
    max_size=5,
)


@settings(max_examples=300)
@given(json_like | st.lists(expectation_like | json_like, max_size=4))
def test_parsing_never_crashes(data):
    try:
        parsed = parse_expectations(data)
    except InputError as exc:
        assert exc.problems and all("\n" not in line for line in exc.problems)
    else:
        assert all(isinstance(e, Expectation) for e in parsed)


names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def column_with_rules(draw, name: str, rows: int) -> tuple[dict, list, object]:
    """An expectation for `name`, `rows` values that meet it, and one value that breaks it."""
    if draw(st.booleans()):
        low = draw(finite)
        high = draw(st.floats(low, 1e6, allow_nan=False))
        numbers = st.floats(low, high, allow_nan=False)
        if math.ceil(low) <= math.floor(high):
            numbers |= st.integers(math.ceil(low), math.floor(high))
        values = draw(st.lists(numbers, min_size=rows, max_size=rows))
        rule: dict = {"column": name, "type": "number", "min": low, "max": high}
        breaking = draw(
            st.sampled_from([high + max(1.0, abs(high)), low - max(1.0, abs(low)), "x"])
        )
    else:
        allowed = draw(st.lists(st.text(max_size=4), min_size=1, max_size=4, unique=True))
        values = draw(st.lists(st.sampled_from(allowed), min_size=rows, max_size=rows))
        rule = {"column": name, "type": "string", "in": allowed}
        breaking = "".join(allowed) + "!"  # longer than any allowed value
    if draw(st.booleans()):
        rule["not_null"] = True
        breaking = draw(st.sampled_from([breaking, None]))
    else:
        values = [None if draw(st.booleans()) else v for v in values]
    return rule, values, breaking


@st.composite
def satisfied_tables(draw) -> tuple[list[dict], dict, str, object]:
    """Expectations, a table meeting them, a column to break and the value that breaks it."""
    columns = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    rows = draw(st.integers(1, 12))
    drawn = {name: draw(column_with_rules(name, rows)) for name in columns}
    rules = [{"columns": columns}] + [rule for rule, _, _ in drawn.values()]
    table = {name: values for name, (_, values, _) in drawn.items()}
    victim = draw(st.sampled_from(columns))
    return rules, table, victim, drawn[victim][2]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(satisfied_tables())
def test_a_table_meeting_its_expectations_passes_and_one_bad_row_fails_it(case):
    rules, table, victim, breaking = case
    expectations = parse_expectations(rules)
    assert quality(table, expectations).result == "pass"
    # one more row: a copy of the first (valid) except in the victim column
    broken = {name: [*values, values[0]] for name, values in table.items()}
    broken[victim][-1] = breaking
    result = quality(broken, expectations)
    evidence(result)
    assert result.result == "fail"
    assert result.figures[f"violations[{victim}]"] == 1.0
