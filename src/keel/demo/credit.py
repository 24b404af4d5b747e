"""Credit decisioning: a gradient-boosting scorer and a logistic scorecard on German Credit.

The data is the UCI Statlog (German Credit) file shipped in examples/demo/data (CC BY 4.0).
Both models are evaluated on a held-out quarter; the business figure is the approval rate
when applicants are approved in order of score until the default rate among the approved
reaches the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

COLUMNS = (
    "checking_status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
)
NUMERIC = (
    "duration",
    "credit_amount",
    "installment_rate",
    "residence_since",
    "age",
    "existing_credits",
    "people_liable",
)
TARGET_DEFAULT_RATE = 0.15
SEED = 7
FEMALE = ("A92", "A95")  # personal_status_sex codes
MALE = ("A91", "A93", "A94")


@dataclass
class CreditModel:
    name: str
    pipeline: Pipeline
    auc: float
    approval_rate: float  # at TARGET_DEFAULT_RATE, on held-out data


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows as an object array (strings and numbers), and 1 for a bad credit, 0 for good."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if any(len(r) != len(COLUMNS) + 1 for r in rows):
        raise ValueError(f"{path}: every row needs {len(COLUMNS) + 1} fields")
    X = np.array(
        [[float(v) if c in NUMERIC else v for c, v in zip(COLUMNS, r, strict=False)] for r in rows],
        dtype=object,
    )
    y = np.array([1 if r[-1] == "2" else 0 for r in rows])
    return X, y


def _features() -> ColumnTransformer:
    numeric = [COLUMNS.index(c) for c in NUMERIC]
    categorical = [i for i, c in enumerate(COLUMNS) if c not in NUMERIC]
    return ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )


def approval_rate_at(default_rate: float, p_bad: np.ndarray, y: np.ndarray) -> float:
    """Approve the safest applicants first; the share approved before defaults pass the target."""
    order = np.argsort(p_bad, kind="stable")
    defaults = np.cumsum(y[order])
    approved = np.arange(1, len(y) + 1)
    ok = np.nonzero(defaults / approved <= default_rate)[0]
    return float((ok[-1] + 1) / len(y)) if len(ok) else 0.0


def split(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, X_test, y_train, y_test: the held-out quarter every demo model is judged on."""
    X, y = load(path)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=SEED
    )
    return X_train, X_test, y_train, y_test


def sex_of(X: np.ndarray) -> np.ndarray:
    """Each row's sex (female, male; unknown for a code outside the data's documentation),
    from its personal_status_sex code: a sensitive attribute for fairness checks."""
    codes = X[:, COLUMNS.index("personal_status_sex")]
    sex = np.select([np.isin(codes, FEMALE), np.isin(codes, MALE)], ["female", "male"], "unknown")
    return sex.astype(object)


def age_group(X: np.ndarray, cut: float = 25) -> np.ndarray:
    """Each row's age group, `under <cut>` or `<cut> and over`, from the age in years."""
    ages = X[:, COLUMNS.index("age")].astype(float)
    return np.where(ages < cut, f"under {cut:g}", f"{cut:g} and over").astype(object)


def train(path: Path) -> list[CreditModel]:
    X_train, X_test, y_train, y_test = split(path)
    candidates = {
        "credit-scorer": GradientBoostingClassifier(
            random_state=SEED, n_estimators=150, max_depth=3, learning_rate=0.05
        ),
        "credit-scorecard": LogisticRegression(max_iter=2000, C=0.5),
    }
    models = []
    for name, estimator in candidates.items():
        pipeline = Pipeline([("features", _features()), ("model", estimator)])
        pipeline.fit(X_train, y_train)
        p_bad = pipeline.predict_proba(X_test)[:, 1]
        models.append(
            CreditModel(
                name,
                pipeline,
                float(roc_auc_score(y_test, p_bad)),
                approval_rate_at(TARGET_DEFAULT_RATE, p_bad, y_test),
            )
        )
    return models
