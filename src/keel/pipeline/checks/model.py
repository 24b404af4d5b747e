"""Model Ops checks on one build: fairness across a sensitive attribute, and robustness.

Fairness is measured with fairlearn (demographic parity and equalized odds differences, and a
MetricFrame per group); robustness by asking the model again with its inputs disturbed. Both
take predictions or a `predict` callable, never a model registry or a workspace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from keel.errors import InputError
from keel.pipeline.checks.result import CheckResult, verdict

PERTURBATIONS = ("noise", "missing", "out_of_range")
UNSEEN = "__keel_unseen__"  # a category no training set holds


def fairness(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    sensitive: Sequence[Any],
    *,
    max_demographic_parity_difference: float = 0.1,
    max_equalized_odds_difference: float = 0.1,
    attribute: str = "sensitive attribute",
) -> CheckResult:
    """Pass when both group differences are within their thresholds.

    Labels are binary, 0/1 (1 the positive class; its rate per group is the selection rate).
    `sensitive` holds each row's group; groups are named by `str()`. Figures: the two
    differences, and per group `accuracy[g]`, `selection_rate[g]`, `true_positive_rate[g]`,
    `false_positive_rate[g]`, `count[g]`. Equalized odds needs both classes in every group:
    when a group lacks one, the result is an error saying which.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    groups = np.array([str(g) for g in sensitive], dtype=object)
    if not len(y_true) == len(y_pred) == len(groups) or not len(groups):
        raise InputError("fairness needs y_true, y_pred and sensitive of one non-zero length")
    thresholds = {
        "max_demographic_parity_difference": max_demographic_parity_difference,
        "max_equalized_odds_difference": max_equalized_odds_difference,
    }
    inputs = {"attribute": attribute}

    def error(reason: str, figures: dict[str, float] | None = None) -> CheckResult:
        return CheckResult(
            "model", "fairness", "error", figures or {}, inputs, [reason], thresholds
        )

    names = sorted(set(groups))
    if len(names) < 2:
        return error(f"{attribute}: only one group ({names[0]}), so there is nothing to compare")
    try:
        frame = MetricFrame(
            metrics={
                "accuracy": accuracy_score,
                "selection_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
                "count": count,
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
        )
        dpd = demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
        eod = equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
    except ValueError as exc:  # fairlearn's word on labels it cannot read
        return error(f"fairness by {attribute} could not be measured: {exc}")
    figures: dict[str, float] = {}
    for metric, by_group in frame.by_group.to_dict().items():
        for group, value in by_group.items():
            figures[f"{metric}[{group}]"] = value
    if not (math.isfinite(dpd) and math.isfinite(eod)):
        return error(f"fairness by {attribute} is undefined on these rows", figures)
    figures["demographic_parity_difference"] = dpd
    one_class = [g for g in names if len(set(y_true[groups == g].tolist())) < 2]
    if one_class:
        return error(
            f"equalized odds by {attribute} is undefined: group {', '.join(one_class)} has "
            "only one true class, so its true or false positive rate cannot be measured",
            figures,
        )
    figures["equalized_odds_difference"] = eod
    log = [
        f"by {attribute}, group {g} ({int(figures[f'count[{g}]'])} rows): accuracy "
        f"{figures[f'accuracy[{g}]']:.3f}, selection rate {figures[f'selection_rate[{g}]']:.3f}, "
        f"TPR {figures[f'true_positive_rate[{g}]']:.3f}, FPR {figures[f'false_positive_rate[{g}]']:.3f}"
        for g in names
    ]
    dp_ok = dpd <= max_demographic_parity_difference
    eo_ok = eod <= max_equalized_odds_difference
    log.append(
        f"demographic parity difference {dpd:.3f} {_within(dp_ok)} "
        f"{max_demographic_parity_difference:g}"
    )
    log.append(
        f"equalized odds difference {eod:.3f} {_within(eo_ok)} {max_equalized_odds_difference:g}"
    )
    return CheckResult(
        "model", "fairness", verdict(dp_ok and eo_ok), figures, inputs, log, thresholds
    )


def _within(ok: bool) -> str:
    return "is within" if ok else "exceeds"


# -- robustness ---------------------------------------------------------------------------


def robustness(
    predict: Callable[[Any], Any],
    X: Any,
    *,
    numeric_columns: Sequence[int],
    categorical_columns: Sequence[int] = (),
    column_names: Sequence[str] | None = None,
    reference: Any = None,
    noise: float = 0.05,
    seed: int = 0,
    min_stability: float = 0.95,
    perturbations: Collection[str] = PERTURBATIONS,
) -> CheckResult:
    """Ask the model again with its inputs disturbed; pass when it holds steady and answers.

    `predict` maps a 2-D array of rows to one answer per row (labels, or a row of class
    probabilities), each row's answer depending on that row alone. `X` is 2-D (an object
    array may mix numbers and strings). Columns are given by index; `column_names` names them
    in the log and figures. `reference` (the training rows; default `X`) gives each numeric
    column's spread and range.

    - noise: Gaussian noise of `noise` times each numeric column's standard deviation, on all
      numeric columns at once; `stability[noise]` (the share of unchanged answers) must be at
      least `min_stability`.
    - missing: one column at a time set missing (NaN, or None in a categorical column); the
      model must answer every row validly. `stability[missing:<col>]` is reported.
    - out_of_range: one numeric column at a time pushed a full training range beyond its
      minimum and its maximum, one categorical column at a time set to an unseen category;
      the model must answer every row validly. `stability[out_of_range:<col> high|low|unseen]`.

    A model that raises, or answers NaN, null or impossible probabilities, fails the
    perturbation concerned, with the reason in the log; it is a finding, not a crash.
    """
    unknown = set(perturbations) - set(PERTURBATIONS)
    if unknown:
        raise InputError(
            f"unknown perturbation {', '.join(sorted(unknown))} (expected {', '.join(PERTURBATIONS)})"
        )
    X = np.asarray(X)
    if X.ndim != 2 or not len(X):
        raise InputError("robustness needs X as a non-empty 2-D array of rows")
    if X.dtype.kind in "biu":
        X = X.astype(float)  # room for NaN and noise
    columns = [*numeric_columns, *categorical_columns]
    if any(not 0 <= c < X.shape[1] for c in columns):
        raise InputError(f"column indexes must lie in 0..{X.shape[1] - 1}")
    names = list(column_names) if column_names is not None else [str(c) for c in range(X.shape[1])]
    if len(names) != X.shape[1]:
        raise InputError(f"column_names has {len(names)} names for {X.shape[1]} columns")
    ref = np.asarray(reference) if reference is not None else X
    if ref.ndim != 2 or ref.shape[1] != X.shape[1]:
        raise InputError(f"reference needs rows of the same {X.shape[1]} columns as X")
    for c in numeric_columns:
        for rows in (X, ref):
            _numbers(rows, c, names[c])
    thresholds = {"min_stability": min_stability, "noise": noise}

    try:
        base = _answers(predict(X), len(X))
    except Exception as exc:  # whatever the model raises is the finding
        reason = f"the model cannot answer the undisturbed rows: {_say(exc)}"
        return CheckResult("model", "robustness", "error", {}, {}, [reason], thresholds)
    if base.invalid:
        reason = f"the model gives {base.invalid} invalid answers on the undisturbed rows"
        return CheckResult("model", "robustness", "error", {}, {}, [reason], thresholds)

    figures: dict[str, float] = {"rows": len(X)}
    log: list[str] = []
    ok = True
    if "noise" in perturbations:
        rng = np.random.default_rng(seed)
        noisy = X.copy()
        for c in numeric_columns:
            scale = noise * float(np.nanstd(_numbers(ref, c, names[c])))
            noisy[:, c] = _numbers(X, c, names[c]) + rng.normal(0.0, scale, len(X))
        outcome = _ask(predict, {"noise": noisy}, base)["noise"]
        if isinstance(outcome, str):
            ok = False
            log.append(f"under noise the model fails: {outcome}")
        else:
            figures["stability[noise]"] = outcome
            steady = outcome >= min_stability
            ok &= steady
            log.append(
                f"noise of {noise:g} std on {len(numeric_columns)} numeric columns: "
                f"{outcome:.1%} of answers unchanged, {'at least' if steady else 'below'} "
                f"the minimum {min_stability:.0%}"
            )
    if "missing" in perturbations:
        cases = {}
        for c in columns:
            disturbed = X.copy()
            disturbed[:, c] = np.nan if c in numeric_columns else None
            cases[names[c]] = disturbed
        ok &= _report("missing", "with {} missing", _ask(predict, cases, base), figures, log)
    if "out_of_range" in perturbations:
        cases = {}
        for c in numeric_columns:
            values = _numbers(ref, c, names[c])
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            span = (high - low) or 1.0
            for side, value in (("high", high + span), ("low", low - span)):
                disturbed = X.copy()
                disturbed[:, c] = value
                cases[f"{names[c]} {side}"] = disturbed
        for c in categorical_columns:
            disturbed = X.copy()
            disturbed[:, c] = UNSEEN
            cases[f"{names[c]} unseen"] = disturbed
        ok &= _report(
            "out_of_range", "with {} out of range", _ask(predict, cases, base), figures, log
        )
    skipped = [p for p in PERTURBATIONS if p not in perturbations]
    if skipped:
        log.append(f"not tried: {', '.join(skipped)}")
    return CheckResult("model", "robustness", verdict(ok), figures, {}, log, thresholds)


def _numbers(rows: np.ndarray, c: int, name: str) -> np.ndarray:
    try:
        return rows[:, c].astype(float)
    except (TypeError, ValueError):
        raise InputError(f"column {name} is declared numeric but holds non-numbers") from None


class _Answers:
    """A model's answers: comparable keys per row, and how many were not valid answers."""

    def __init__(self, keys: np.ndarray, invalid: int):
        self.keys, self.invalid = keys, invalid


def _answers(out: Any, rows: int) -> _Answers:
    out = np.asarray(out)
    if out.ndim == 0 or out.shape[0] != rows or out.ndim > 2:
        raise ValueError(f"expected one answer per row ({rows}), got shape {out.shape}")
    if out.ndim == 2:  # class probabilities: finite, in [0, 1], summing to 1
        p = out.astype(float)
        good = np.isfinite(p).all(axis=1) & (p >= 0).all(axis=1) & (p <= 1).all(axis=1)
        good &= np.abs(p.sum(axis=1) - 1) < 1e-6
        return _Answers(np.argmax(np.nan_to_num(p), axis=1), int((~good).sum()))
    if out.dtype.kind in "fc":
        return _Answers(out, int((~np.isfinite(out)).sum()))
    bad = sum(1 for v in out.tolist() if v is None or (isinstance(v, float) and math.isnan(v)))
    return _Answers(out, bad)


def _ask(
    predict: Callable[[Any], Any], cases: dict[str, np.ndarray], base: _Answers
) -> dict[str, float | str]:
    """Stability (share of unchanged valid answers) per case, or why the model gave none.

    All cases go to the model as one batch; if the batch fails, each case is asked alone so
    the failure lands on the cases that cause it.
    """
    rows = len(base.keys)
    try:
        together = _answers(predict(np.concatenate(list(cases.values()))), rows * len(cases))
    except Exception:  # some case breaks the model: find which, one by one
        return {name: _one(predict, X, base) for name, X in cases.items()}
    results: dict[str, float | str] = {}
    for i, name in enumerate(cases):
        part = _Answers(together.keys[i * rows : (i + 1) * rows], 0)
        results[name] = (
            _one(predict, cases[name], base) if together.invalid else _stability(part, base)
        )
    return results


def _one(predict: Callable[[Any], Any], X: np.ndarray, base: _Answers) -> float | str:
    try:
        answers = _answers(predict(X), len(X))
    except Exception as exc:  # the model's own failure is what we report
        return f"raises {_say(exc)}"
    if answers.invalid:
        return f"gives {answers.invalid} invalid answers of {len(X)}"
    return _stability(answers, base)


def _stability(answers: _Answers, base: _Answers) -> float:
    return float(np.mean(answers.keys == base.keys))


def _report(
    kind: str,
    phrase: str,
    outcomes: dict[str, float | str],
    figures: dict[str, float],
    log: list[str],
) -> bool:
    answered = [name for name, o in outcomes.items() if not isinstance(o, str)]
    for name, outcome in outcomes.items():
        if isinstance(outcome, str):
            log.append(f"{phrase.format(name)} the model {outcome}")
        else:
            figures[f"stability[{kind}:{name}]"] = outcome
    figures[f"answered[{kind}]"] = len(answered) / len(outcomes) if outcomes else 1.0
    if answered:
        lowest = min(answered, key=lambda n: outcomes[n])
        figures[f"lowest_stability[{kind}]"] = outcomes[lowest]
        log.append(
            f"{kind.replace('_', ' ')}: valid answers in {len(answered)} of {len(outcomes)} cases; "
            f"least stable {phrase.format(lowest)} ({outcomes[lowest]:.1%} unchanged)"
        )
    return len(answered) == len(outcomes)


def _say(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
