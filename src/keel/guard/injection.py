"""Prompt-injection and jailbreak detection, offline: phrase rules plus a linear model shipped as data.

The model is logistic regression over hashed character n-grams (`features.py`), counts divided
by the square root of the n-gram total, trained by `python -m keel.guard.train` on the training part of the dev sets; its weights
live in `data/injection.npz` (float16, loaded once, no network). A text scores the maximum of its
whole-text score and the scores of overlapping windows, so an instruction buried in a long
document (indirect injection) is not averaged away. Rules (`RULES`) are features of the same
model: they add their learned weight when they match anywhere in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import re2

from keel.guard.features import ngram_ids, normalize
from keel.guard.findings import Finding

SCANNER = "injection"
TYPE = "PROMPT_INJECTION"
WINDOW = 512  # bytes of normalised text per window; windows overlap by half

_OPT = re2.Options()
_OPT.case_sensitive = False
RULES: tuple[tuple[str, str], ...] = (
    ("ignore_previous", r"\b(?:ignore|disregard|forget|override|skip|bypass)\b.{0,40}\b(?:previous|prior|above|earlier|preceding|initial|original|all|any|your)\b.{0,30}\b(?:instructions?|prompts?|rules|directions|guidelines|context|commands?)\b"),
    ("new_instructions", r"\b(?:new|updated|real|actual|following)\s+(?:instructions?|rules|task)\s*:"),
    ("persona_mode", r"\b(?:developer|dan|god|jailbreak|jailbroken|unrestricted|evil|unfiltered|uncensored|admin|debug)\s+mode\b"),
    ("do_anything", r"\bdo\s+anything\s+now\b|\bno\s+longer\s+(?:bound|restricted|limited)\b|\bbroken\s+free\b"),
    ("no_limits", r"\b(?:without|no|free\s+(?:of|from))\s+(?:any\s+)?(?:ethical|moral|content|safety)?\s*(?:restrictions|limitations|filters|censorship|guidelines|boundaries|rules)\b"),
    ("amoral", r"\b(?:amoral|unethical|uncensored|unfiltered|immoral)\b"),
    ("reveal_prompt", r"\b(?:reveal|print|show|repeat|output|leak|display|tell\s+me|spell\s+out)\b.{0,30}\b(?:system|initial|hidden|secret|original|above)\s+(?:prompt|instructions?|message)"),
    ("system_prompt", r"\bsystem\s+prompt\b"),
    ("stay_in_character", r"\b(?:stay|remain|staying)\s+in\s+character\b|\bbreak(?:ing)?\s+character\b"),
    ("chat_template", r"<\|im_start\|>|<\|im_end\|>|\[/?INST\]|<<SYS>>|<\|system\|>|###\s*(?:system|instruction)\s*:"),
    ("pretend", r"\b(?:pretend|imagine|roleplay|role-play)\b.{0,40}\b(?:no|without|any)\b.{0,20}\b(?:rules|restrictions|limits|filters|guidelines)\b"),
    ("openai_policy", r"\b(?:openai|content)\s+polic(?:y|ies)\b"),
)  # fmt: skip
_RULES = [re2.compile(rx, _OPT) for _, rx in RULES]


@dataclass(frozen=True)
class Model:
    weights: np.ndarray  # float32, one per hash bucket, then a 0 for "no n-gram" (-1)
    rule_weights: np.ndarray  # float32, one per rule
    bias: float
    threshold: float  # decision threshold on the logit, chosen on training data


@lru_cache(maxsize=1)
def model() -> Model:
    with resources.files("keel.guard").joinpath("data/injection.npz").open("rb") as fh:
        data = np.load(fh)
        return Model(
            weights=np.append(data["weights"].astype(np.float32), np.float32(0.0)),
            rule_weights=data["rule_weights"].astype(np.float32),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
        )


def rule_hits(text: str) -> np.ndarray:
    return np.array([1.0 if rx.search(text) else 0.0 for rx in _RULES], dtype=np.float32)


def _window_sums(ids: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative weight and n-gram count at each byte position (bucket -1 weighs nothing)."""
    contrib = weights[ids].sum(axis=0)  # ids of -1 pick the trailing zero of `weights`
    valid = (ids >= 0).sum(axis=0)
    return np.concatenate([[0.0], np.cumsum(contrib)]), np.concatenate([[0], np.cumsum(valid)])


def score(text: str, m: Model | None = None) -> float:
    """The injection logit of `text`: above `model().threshold` reads as an injection.

    The n-gram part is sum(weights) / sqrt(n-gram count), for the whole text and for every window
    of WINDOW bytes at a stride of WINDOW/2, all from one cumulative sum (linear time, no sort).
    """
    m = m or model()
    data = normalize(text)
    ids = ngram_ids(data)
    total, count = _window_sums(ids, m.weights)
    best = total[-1] / np.sqrt(max(count[-1], 1))
    if len(data) > WINDOW:
        starts = np.arange(0, len(data) - WINDOW // 2, WINDOW // 2)
        ends = np.minimum(starts + WINDOW, len(data))
        n = np.maximum(count[ends] - count[starts], 1)
        best = max(best, float(np.max((total[ends] - total[starts]) / np.sqrt(n))))
    return m.bias + float(best) + float(np.dot(rule_hits(text), m.rule_weights))


def scan(text: str, threshold: float | None = None) -> list[Finding]:
    """One finding over the whole text when it reads as an injection, else none."""
    m = model()
    value = score(text, m)
    if value < (m.threshold if threshold is None else threshold):
        return []
    return [Finding(TYPE, 0, len(text), SCANNER, score=round(value, 3))]
