"""Hashed character n-grams for the injection model, computed with numpy (no Python loop per n-gram).

A text is NFKC-folded, lower-cased and whitespace-collapsed, then read as UTF-8 bytes; every byte
3-, 4- and 5-gram is hashed (multiplicative rolling hash, uint32 arithmetic that wraps) into one of
2**BITS buckets. Training and inference share this one function, so the shipped weights stay valid.
"""

from __future__ import annotations

import unicodedata

import numpy as np

BITS = 18
NGRAMS = (3, 4, 5)
_PRIME = np.uint32(0x01000193)
_MIX = np.uint32(0x9E3779B1)
_SHIFT = np.uint32(32 - BITS)
_SALT = {n: np.uint32((n * 0x85EBCA6B) & 0xFFFFFFFF) for n in NGRAMS}


def normalize(text: str) -> bytes:
    folded = unicodedata.normalize("NFKC", text) if not text.isascii() else text
    return " ".join(folded.lower().split()).encode("utf-8", "replace")


def ngram_ids(data: bytes) -> np.ndarray:
    """Bucket ids of shape (len(NGRAMS), len(data)); row n holds the n-gram starting at each byte.

    Positions where an n-gram would run past the end hold -1, so callers can align windows.
    """
    size = len(data)
    out = np.full((len(NGRAMS), size), -1, dtype=np.int64)
    if size < NGRAMS[0]:
        return out
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    h = raw.copy()
    for n in range(2, NGRAMS[-1] + 1):
        if size < n:
            break
        h = h[:-1] * _PRIME + raw[n - 1 :]
        if n in _SALT:
            ids = ((h ^ _SALT[n]) * _MIX) >> _SHIFT
            out[NGRAMS.index(n), : size - n + 1] = ids
    return out
