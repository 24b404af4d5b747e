"""Eval Ops check: the candidate against the baseline (the production version) on held-out data.

The point estimates come from sklearn.metrics; the uncertainty of the difference from a paired
bootstrap (scipy.stats.bootstrap, BCa, fixed seed), since a few hundred held-out rows leave
room for chance. Each metric has a vectorised form for the resamples (ROC AUC: its rank form),
so a thousand resamples take milliseconds rather than a thousand sklearn calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import bootstrap, rankdata
from sklearn.metrics import roc_auc_score

from keel.errors import InputError
from keel.pipeline.checks.result import CheckResult, verdict

METRICS = ("roc_auc",)


def evaluation(
    y_true: Sequence[Any],
    scores_candidate: Sequence[float],
    scores_baseline: Sequence[float] | None = None,
    *,
    metric: str = "roc_auc",
    max_drop: float = 0.01,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> CheckResult:
    """Pass when the candidate's metric is at least the baseline's minus `max_drop`.

    `y_true` holds 0/1 labels, the scores the candidate's and baseline's scores for class 1
    on the same rows. With no baseline (a first release) the check passes and says so.
    Figures: `<metric>[candidate]`, `<metric>[baseline]`, `difference` (candidate minus
    baseline) with `difference_ci_low`/`difference_ci_high`, or the candidate's own interval
    when there is no baseline; `rows`, `positives`.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r} (expected {', '.join(METRICS)})")
    y = np.asarray(y_true)
    cand = np.asarray(scores_candidate, dtype=float)
    base = None if scores_baseline is None else np.asarray(scores_baseline, dtype=float)
    if (
        y.ndim != 1
        or not len(y)
        or cand.shape != y.shape
        or (base is not None and base.shape != y.shape)
    ):
        raise InputError("evaluation needs y_true and the scores as 1-D sequences of one length")
    thresholds = {"max_drop": max_drop, "confidence": confidence}
    figures: dict[str, float] = {"rows": len(y), "positives": int(np.sum(y == 1))}
    if set(np.unique(y).tolist()) != {0, 1}:
        reason = f"{metric} needs both classes (0 and 1) among the held-out labels"
        return CheckResult("eval", "evaluation", "error", figures, {}, [reason], thresholds)
    if not np.isfinite(cand).all() or (base is not None and not np.isfinite(base).all()):
        reason = "some scores are NaN or infinite, so the models cannot be compared"
        return CheckResult("eval", "evaluation", "error", figures, {}, [reason], thresholds)

    score = roc_auc_score
    figures[f"{metric}[candidate]"] = score(y, cand)
    log = [
        f"{metric} of the candidate on {len(y)} held-out rows: {figures[f'{metric}[candidate]']:.4f}"
    ]
    level = f"{confidence:.0%}"
    if base is None:
        low, high = _interval(
            (y, cand), lambda y, c, axis=-1: rank_auc(y, c), confidence, resamples, seed
        )
        if low is not None:
            figures[f"{metric}_ci_low[candidate]"], figures[f"{metric}_ci_high[candidate]"] = (
                low,
                high,
            )
            log.append(f"{level} bootstrap interval: {low:.4f} to {high:.4f}")
        log.append("no baseline (a first release): nothing to compare against, so it passes")
        return CheckResult("eval", "evaluation", "pass", figures, {}, log, thresholds)

    figures[f"{metric}[baseline]"] = score(y, base)
    difference = figures[f"{metric}[candidate]"] - figures[f"{metric}[baseline]"]
    figures["difference"] = difference
    low, high = _interval(
        (y, cand, base),
        lambda y, c, b, axis=-1: rank_auc(y, c) - rank_auc(y, b),
        confidence,
        resamples,
        seed,
    )
    log.append(f"{metric} of the baseline: {figures[f'{metric}[baseline]']:.4f}")
    if low is not None:
        figures["difference_ci_low"], figures["difference_ci_high"] = low, high
        log.append(
            f"difference {difference:+.4f}, {level} bootstrap interval {low:+.4f} to {high:+.4f}"
        )
    else:
        log.append(f"difference {difference:+.4f} (too few rows of each class for an interval)")
    ok = difference >= -max_drop
    log.append(
        f"the candidate is {'within' if ok else 'beyond'} the allowed drop of {max_drop:g} "
        "below the baseline"
    )
    return CheckResult("eval", "evaluation", verdict(ok), figures, {}, log, thresholds)


def _interval(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., Any],
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[float, float] | tuple[None, None]:
    """The BCa bootstrap interval of `statistic` over rows resampled together; None if undefined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples show up as NaN, handled below
        try:
            result = bootstrap(
                data,
                statistic,
                paired=True,
                vectorized=True,
                n_resamples=resamples,
                confidence_level=confidence,
                method="BCa",
                random_state=np.random.default_rng(seed),
            )
        except ValueError:
            return None, None
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        return None, None
    return low, high


def rank_auc(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC along the last axis by its Mann-Whitney form (ties count one half, as in sklearn);
    NaN where a resample holds only one class."""
    ranks = rankdata(scores, axis=-1)  # average ranks for ties
    positives = (y == 1).sum(axis=-1)
    negatives = y.shape[-1] - positives
    rank_sum = np.where(y == 1, ranks, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
