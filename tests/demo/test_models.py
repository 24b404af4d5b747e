"""The demo's models: really trained on German Credit, and a retrieval index that finds its articles."""

from __future__ import annotations

import pytest

from keel.demo.credit import COLUMNS, TARGET_DEFAULT_RATE, approval_rate_at, sex_of, split, train
from keel.demo.support import build_index, read_articles
from tests.conftest import EXAMPLES, GERMAN_CREDIT

ARTICLES = EXAMPLES / "demo" / "knowledge-base"


def test_both_credit_models_learn_something_on_held_out_data():
    models = {m.name: m for m in train(GERMAN_CREDIT)}
    assert set(models) == {"credit-scorer", "credit-scorecard"}
    for model in models.values():
        assert 0.65 < model.auc < 1.0, (model.name, model.auc)
        assert 0.0 < model.approval_rate <= 1.0


def test_the_split_is_fixed_and_keeps_every_applicant_once():
    X_train, X_test, y_train, y_test = split(GERMAN_CREDIT)
    again = split(GERMAN_CREDIT)
    assert len(X_train) + len(X_test) == 1000 and X_train.shape[1] == len(COLUMNS)
    assert (again[1] == X_test).all() and set(y_train) | set(y_test) == {0, 1}
    assert set(sex_of(X_test)) <= {"female", "male"}


def test_the_approval_rate_keeps_the_default_rate_at_or_below_the_target():
    import numpy as np

    p_bad = np.array([0.1, 0.2, 0.3, 0.9])
    y = np.array([0, 0, 1, 1])
    # approving the two lowest risks has no defaults; a third would make it 1 in 3
    assert approval_rate_at(TARGET_DEFAULT_RATE, p_bad, y) == pytest.approx(0.5)


def test_the_retrieval_index_finds_each_article_by_its_title():
    names, titles, _ = read_articles(ARTICLES)
    index, hit_rate = build_index(ARTICLES)
    assert len(names) == len(titles) >= 10 and "card-lost-stolen" in names
    assert hit_rate >= 0.9  # the share of titles whose nearest article is their own
    assert index.vectors.shape[0] == len(names)
