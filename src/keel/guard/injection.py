"""Prompt-injection and jailbreak detection, offline: phrase rules plus a linear model shipped as data.

The model is logistic regression over hashed character n-grams (`features.py`): which buckets
occur (not how often), their weights summed and divided by (distinct bucket count) ** ALPHA, so a
text repeated any number of times scores as two copies do (only n-grams across the seam are new):
repetition does not grow the score. Trained by `python -m keel.guard.train` on the training part
of the dev sets; its weights live in `data/injection.npz` (float16, loaded once, no network). A
text scores the maximum of its whole-text score and the scores of overlapping windows, so an
instruction buried in a long document (indirect injection) is not averaged away. Rules (`RULES`)
are features of the same model: they add their learned weight when they match anywhere in the
text (all of them found in one RE2 pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import re2

from keel.guard import evasion
from keel.guard.features import BITS, NGRAMS, hashes, hashes_of, normalize, occurrences
from keel.guard.findings import Finding

SCANNER = "injection"
TYPE = "PROMPT_INJECTION"
WINDOW = 512  # bytes of normalised text per window; windows overlap by half
_HALF = 8  # log2(WINDOW / 2): windows start every 2 ** _HALF bytes
_CHUNK = 32  # blocks of WINDOW / 2 bytes per pass over a long text (8 KB: the arrays stay in cache)
ALPHA = 0.5  # the n-gram sum is divided by distinct-count ** ALPHA (chosen by cross-validation)

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
# One pass finds every rule that matches. RE2::Set has no NFA fallback: if its DFA runs out of
# memory it reports no match, so an empty answer is checked by one search of the union of the
# rules (an ordinary RE2, which falls back) and, should that match, the rules are run one by one.
_SET = re2.Set.SearchSet(_OPT)
for _, _rx in RULES:
    _SET.Add(_rx)
_SET.Compile()
_ANY = re2.compile("|".join(f"(?:{rx})" for _, rx in RULES), _OPT)


@dataclass(frozen=True)
class Model:
    weights: np.ndarray  # float32, one per hash bucket
    rule_weights: np.ndarray  # float32, one per rule
    bias: float
    threshold: float  # decision threshold on the logit, chosen on training data


@lru_cache(maxsize=1)
def model() -> Model:
    with resources.files("keel.guard").joinpath("data/injection.npz").open("rb") as fh:
        data = np.load(fh)
        return Model(
            weights=data["weights"].astype(np.float32),
            rule_weights=data["rule_weights"].astype(np.float32),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
        )


def rule_hits(text: str) -> np.ndarray:
    """1.0 for each rule that matches somewhere in `text`, else 0.0."""
    hits = np.zeros(len(RULES), dtype=np.float32)
    data = text.encode("utf-8", "replace")  # as `normalize`: a lone surrogate must not raise
    found = _SET.Match(data)
    if found:
        hits[found] = 1.0
    elif _ANY.search(data):
        hits[:] = [1.0 if rx.search(data) else 0.0 for rx in _RULES]
    return hits


def _block_sums(
    w: np.ndarray, starts: np.ndarray, prev: np.ndarray, offset: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weight sums and counts of the n-grams starting in blocks lo..hi-1, each (hi - lo, 3).

    `w`, `starts`, `prev` describe the n-grams of data[offset:] (`occurrences`, weights looked
    up), which must begin at block lo - 1 (or 0) and cover block hi - 1. Column 0 holds n-grams
    whose bucket occurred earlier in the same block, column 1 those whose previous occurrence is
    in the block before, column 2 the rest (further back or none); block lo - 1 is only context.
    """
    block = (starts + offset) >> _HALF
    lag = np.minimum(block - ((prev + offset) >> _HALF), 2)  # prev -1 lies before any context
    key = (block - lo + 1) * 3 + lag  # context block -> row 0 and blocks from hi on: dropped
    size = 3 * (hi - lo + 1)
    sums = np.bincount(key, weights=w, minlength=size)[3:size].reshape(-1, 3)
    seen = np.bincount(key, minlength=size)[3:size].reshape(-1, 3)
    return sums, seen


def score(text: str, m: Model | None = None) -> float:
    """The injection logit of `text`: above `model().threshold` reads as an injection.

    The n-gram part is the summed weight of the distinct buckets in a span over (their count) **
    ALPHA, for the whole text and for every window of WINDOW bytes at a stride of WINDOW/2.
    Window j is blocks j and j+1 of WINDOW/2 bytes; an n-gram counts in its own block's window
    when its bucket's previous occurrence (`occurrences`) lies in an earlier block, and in the
    window before when it lies two or more blocks back: bincounts per block give every window.
    Texts over _CHUNK blocks go a chunk at a time (each with the block before it as context),
    their whole-text buckets from a bitmap: linear time, with arrays that stay in cache.
    """
    m = m or model()
    return m.bias + _ngram_part(normalize(text), m) + float(np.dot(rule_hits(text), m.rule_weights))


def _ngram_part(data: bytes, m: Model, ids: list[np.ndarray] | None = None) -> float:
    """`score`'s n-gram part of normalised `data` (`ids`: its `hashes`, when known)."""
    blocks = ((len(data) - 1) >> _HALF) + 1
    if len(data) <= WINDOW:  # one window: only the whole text's distinct buckets matter
        ids = hashes(data) if ids is None else ids
        best, parts = 0.0, []
        if ids:
            found = np.concatenate(ids)
            found.sort()  # distinct buckets: np.unique's work without its overhead
            distinct = found[np.concatenate(([True], found[1:] != found[:-1]))]
            best = float(m.weights[distinct].sum()) / len(distinct) ** ALPHA
    elif blocks <= _CHUNK:
        starts, buckets, prev = occurrences(data, ids)
        w = m.weights[buckets]
        first = prev < 0
        best = float(np.dot(w, first)) / max(np.count_nonzero(first), 1) ** ALPHA
        parts = [_block_sums(w, starts, prev, 0, 0, blocks)] if len(data) > WINDOW else []
    else:
        present = np.zeros(1 << BITS, dtype=bool)
        for ids in hashes(data):
            present[ids] = True
        distinct = np.flatnonzero(present)
        best = float(m.weights[distinct].sum()) / max(len(distinct), 1) ** ALPHA
        parts = []
        for lo in range(0, blocks, _CHUNK):
            hi, offset = min(lo + _CHUNK, blocks), max(lo - 1, 0) << _HALF
            starts, buckets, prev = occurrences(data[offset : (hi << _HALF) + NGRAMS[-1] - 1])
            parts.append(_block_sums(m.weights[buckets], starts, prev, offset, lo, hi))
    if parts:
        sums = np.concatenate([p[0] for p in parts])
        seen = np.concatenate([p[1] for p in parts])
        total = sums[:-1, 1] + sums[:-1, 2] + sums[1:, 2]
        count = seen[:-1, 1] + seen[:-1, 2] + seen[1:, 2]
        best = max(best, float(np.max(total / np.maximum(count, 1) ** ALPHA)))
    return best


def score_undisguised(text: str, m: Model | None = None) -> float:
    """The larger of the scores of `text` and of its variant with disguises undone (homoglyphs,
    leetspeak, base64/hex, rot13: `evasion.variants`), so a disguise never lowers a score."""
    m = m or model()
    value = score(text, m)
    return max([value, *(score(v, m) for v in evasion.variants(text))])


def scan(text: str, threshold: float | None = None) -> list[Finding]:
    """One finding over the whole text when it (or its undisguised variant) reads as an
    injection, else none."""
    m = model()
    value = score_undisguised(text, m)
    if value < (m.threshold if threshold is None else threshold):
        return []
    return [Finding(TYPE, 0, len(text), SCANNER, score=round(value, 3))]


def scores(texts: list[str], m: Model | None = None) -> list[float]:
    """`[score(t, m) for t in texts]`, in one pass over the texts joined where that saves work.

    A request's texts (its messages, the side fields' document, their undisguised variants)
    are scored together: their bytes are hashed in one call (`hashes_of`: each text's n-grams
    are slices of the join's, none across a seam), and the rules are searched once over the
    texts joined, per text only when that finds one (a rule found in a text is found in the
    join). What stays per text is the distinct-bucket sum and the windows. The scores are
    `score`'s own, computed by the same functions.
    """
    m = m or model()
    data = [normalize(t) for t in texts]
    ids = hashes_of([d if len(d) <= _CHUNK << _HALF else b"" for d in data])
    joined = "\n".join(texts).encode("utf-8", "replace")
    ruled = bool(_SET.Match(joined) or _ANY.search(joined))
    out = []
    for text, d, found in zip(texts, data, ids, strict=True):
        rules = float(np.dot(rule_hits(text), m.rule_weights)) if ruled else 0.0
        part = _ngram_part(d, m, found if len(d) <= _CHUNK << _HALF else None)
        out.append(m.bias + part + rules)
    return out


def scores_undisguised(texts: list[str], m: Model | None = None) -> list[float]:
    """`[score_undisguised(t, m) for t in texts]`: the texts and their variants in one
    `scores` pass (`evasion.variants_of`: one disguise check over all of them)."""
    m = m or model()
    flat, owner = list(texts), list(range(len(texts)))
    for i, found in enumerate(evasion.variants_of(texts)):
        flat.extend(found)
        owner.extend([i] * len(found))
    out = [-np.inf] * len(texts)
    for i, value in zip(owner, scores(flat, m), strict=True):
        out[i] = max(out[i], value)
    return out


def scan_many(texts: list[str], threshold: float | None = None) -> list[list[Finding]]:
    """`[scan(t, threshold) for t in texts]`, every score taken in one `scores` pass."""
    m = model()
    cut = m.threshold if threshold is None else threshold
    return [
        [Finding(TYPE, 0, len(text), SCANNER, score=round(value, 3))] if value >= cut else []
        for text, value in zip(texts, scores_undisguised(texts, m), strict=True)
    ]
