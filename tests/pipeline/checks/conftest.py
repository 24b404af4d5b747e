"""The demo credit models trained once on German Credit, and the held-out quarter they face."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from keel.audit.canonical import canonical_bytes
from keel.demo import credit
from keel.pipeline.checks import CheckResult
from tests.conftest import GERMAN_CREDIT


@dataclass
class Credit:
    scorer: Pipeline  # gradient boosting: the candidate
    scorecard: Pipeline  # logistic regression: the production baseline
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    numeric: list[int]
    categorical: list[int]


@pytest.fixture(scope="session")
def real() -> Credit:
    models = {m.name: m.pipeline for m in credit.train(GERMAN_CREDIT)}
    X_train, X_test, y_train, y_test = credit.split(GERMAN_CREDIT)
    numeric = [credit.COLUMNS.index(c) for c in credit.NUMERIC]
    categorical = [i for i in range(len(credit.COLUMNS)) if i not in numeric]
    return Credit(
        models["credit-scorer"],
        models["credit-scorecard"],
        X_train,
        X_test,
        y_train,
        y_test,
        numeric,
        categorical,
    )


def evidence(result: CheckResult) -> dict:
    """The result as an evidence record would hold it; fails unless canonical-JSON-safe."""
    record = result.as_dict()
    canonical_bytes(record)
    assert json.loads(json.dumps(record, allow_nan=False)) == record  # plain types only
    assert all(type(v) is float for v in record["figures"].values())
    assert all(type(v) is float for v in record["thresholds"].values())
    assert record["log"], "every result says in words what happened"
    return record
