"""Quality floors on the held-out ~30 % of each labelled dev set in tests/vectors/guard.

Held out = rows whose sha256(text) first byte mod 10 is 0-2 (`keel.guard.train.held_out`): never
used to train the injection model, pick its C or its threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

from keel.guard import injection, secrets
from keel.guard.evaluate import PII_FILES, PII_TYPES, pii_figures, pii_rows, read_jsonl
from keel.guard.train import held_out, load, tpr_at
from tests.conftest import VECTORS

DATA = VECTORS / "guard"


def test_injection_detection_at_two_percent_false_positives():
    rows = [r for r in load(DATA) if held_out(r["text"])]
    labels = np.array([r["label"] == "injection" for r in rows], dtype=int)
    scores = np.array([injection.score(r["text"]) for r in rows])
    assert tpr_at(labels, scores, 0.02) >= 0.90
    # the shipped threshold itself: most caught, few benign prompts stopped
    threshold = injection.model().threshold
    assert np.mean(scores[labels == 1] >= threshold) >= 0.88
    assert np.mean(scores[labels == 0] >= threshold) <= 0.02


@pytest.mark.parametrize("name", PII_FILES)
def test_pii_recall_per_type(name):
    rows = [r for r in pii_rows(DATA, name) if held_out(r["text"])]
    caught, total, false = pii_figures(rows)
    for kind in PII_TYPES:
        if total[kind] >= 3:
            assert caught[kind] / total[kind] >= 0.95, (kind, caught[kind], total[kind])
    assert sum(false.values()) <= 0.05 * max(sum(total.values()), 1) + 2


def test_secrets_detection_and_false_positives():
    rows = [r for r in read_jsonl(DATA / "secrets_dev.jsonl") if held_out(r["text"])]
    flagged = [bool(secrets.scan(r["text"])) for r in rows]
    pos = [f for f, r in zip(flagged, rows, strict=True) if r["label"] == "secret"]
    neg = [f for f, r in zip(flagged, rows, strict=True) if r["label"] != "secret"]
    assert sum(pos) / len(pos) >= 0.90
    assert sum(neg) / len(neg) <= 0.10
