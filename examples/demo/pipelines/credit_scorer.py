"""Train the credit scorer on German Credit, with governance as steps of the pipeline.

Runs anywhere the SDK can reach a workspace (KEEL_HOME): `keel pipeline run` here, or
unchanged under a scheduler. Every check becomes evidence in the audit log; the trained
model is released with its signed attestations. Two variants:

    --variant all-features   every column, the applicant's sex and age included
    --variant fair           without sex and age, and without two columns that stand in for
                             them here (employment_since, housing); numbers imputed, so the
                             model also answers rows with missing values
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skops.io import dump, get_untrusted_types, load

import keel
from keel.demo.credit import (
    COLUMNS,
    NUMERIC,
    SEED,
    TARGET_DEFAULT_RATE,
    age_group,
    approval_rate_at,
    sex_of,
    split,
)
from keel.demo.credit import load as load_rows
from keel.pipeline import checks

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "german_credit" / "german.data"
PROTECTED_AND_PROXIES = {
    "all-features": set(),
    "fair": {"personal_status_sex", "age", "employment_since", "housing"},
}
# The policy's thresholds (policy:credit-decisioning-release); the policy decides at promotion.
MAX_DPD, MAX_EOD, MIN_STABILITY = 0.1, 0.15, 0.95


def model_for(variant: str) -> Pipeline:
    dropped = PROTECTED_AND_PROXIES[variant]
    numeric = [COLUMNS.index(c) for c in NUMERIC if c not in dropped]
    categorical = [i for i, c in enumerate(COLUMNS) if c not in NUMERIC and c not in dropped]
    if variant == "fair":
        features = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent", missing_values=None),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                ),
            ]
        )
        return Pipeline(
            [("features", features), ("model", LogisticRegression(max_iter=2000, C=0.5))]
        )
    features = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    estimator = GradientBoostingClassifier(
        random_state=SEED, n_estimators=150, max_depth=3, learning_rate=0.05
    )
    return Pipeline([("features", features), ("model", estimator)])


def load_baseline(path: Path):
    """A previous version from its skops file, trusting only scikit-learn and numpy types."""
    untrusted = get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if foreign:
        raise SystemExit(f"{path}: refusing to load types {foreign}")
    return load(path, trusted=untrusted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(PROTECTED_AND_PROXIES), default="fair")
    parser.add_argument("--out", type=Path, default=Path("artifacts"))
    parser.add_argument("--baseline", type=Path, help="The previous version's .skops file.")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    with keel.run(
        system="credit-decisioning", pipeline=f"train-credit-scorer ({args.variant})"
    ) as run:
        # Data Ops: where the data comes from, whether its consent covers this use, its quality
        run.log_dataset(args.data, source="datasource:german-credit")
        source = run.source("german-credit")
        run.record(checks.provenance([checks.DatasetUse(args.data.name, args.data, source)]))
        run.record(checks.consent([source] if source else [], run.purpose))
        X, y = load_rows(args.data)
        expectations = checks.parse_expectations(
            yaml.safe_load((HERE / "german-credit-expectations.yaml").read_text())
        )
        run.record(checks.quality(checks.columns_of(X, COLUMNS), expectations))

        # Feature Ops: the feature set read, logged under this run's identity, and its owner
        run.use_features("featureset:credit-features")

        # Build
        X_train, X_test, y_train, y_test = split(args.data)
        model = model_for(args.variant)
        run.log_params(
            {
                "variant": args.variant,
                "seed": SEED,
                "heldOut": 0.25,
                "architecture": type(model[-1]).__name__,
                "dropped": sorted(PROTECTED_AND_PROXIES[args.variant]),
            }
        )
        model.fit(X_train, y_train)
        p_bad = model.predict_proba(X_test)[:, 1]
        run.log_metric("ROC AUC (held-out)", round(float(roc_auc_score(y_test, p_bad)), 4))
        run.log_metric(
            f"approval rate at {TARGET_DEFAULT_RATE:.0%} defaults (%)",
            round(100 * approval_rate_at(TARGET_DEFAULT_RATE, p_bad, y_test), 1),
        )

        # Model Ops: fairness across sex and age group, robustness
        predicted = model.predict(X_test)
        for name, groups in (("sex", sex_of(X_test)), ("age", age_group(X_test))):
            run.record(
                checks.fairness(
                    y_test,
                    predicted,
                    groups,
                    max_demographic_parity_difference=MAX_DPD,
                    max_equalized_odds_difference=MAX_EOD,
                    attribute=name,
                ),
                check=f"fairness-{name}",
            )
        numeric = [COLUMNS.index(c) for c in NUMERIC]
        categorical = [i for i, c in enumerate(COLUMNS) if c not in NUMERIC]
        run.record(
            checks.robustness(
                model.predict_proba,
                X_test,
                numeric_columns=numeric,
                categorical_columns=categorical,
                column_names=COLUMNS,
                reference=X_train,
                seed=SEED,
                min_stability=MIN_STABILITY,
            )
        )

        # Eval Ops: held-out data against the version it would replace
        baseline = (
            load_baseline(args.baseline).predict_proba(X_test)[:, 1] if args.baseline else None
        )
        run.record(checks.evaluation(y_test, p_bad, baseline))

        args.out.mkdir(parents=True, exist_ok=True)
        artifact = args.out / f"credit-scorer-{args.variant}.skops"
        dump(model, artifact)
        run.log_artifact(artifact)
        run.release("credit-scorer", artifact)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
