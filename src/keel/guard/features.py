"""Hashed character n-grams for the injection model, computed with numpy (no Python loop per n-gram).

A text is NFKC-folded, lower-cased and whitespace-collapsed, then read as UTF-8 bytes; every byte
3-, 4- and 5-gram is hashed (multiplicative rolling hash, uint32 arithmetic that wraps) into one of
2**BITS buckets. The model reads which buckets occur, not how often: `occurrences` gives each
n-gram the start of the previous one in its bucket, from which the distinct buckets of any span
follow, so repeating a text does not change its features. Training and inference share these
functions, so the shipped weights stay valid.
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


def hashes(data: bytes) -> list[np.ndarray]:
    """Bucket ids (uint32) of every n-gram, one array per n in NGRAMS, n-gram i starting at byte i."""
    size = len(data)
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    h, out = raw, []
    for n in range(2, NGRAMS[-1] + 1):
        if size < n:
            break
        h = h[:-1] * _PRIME + raw[n - 1 :]
        if n in _SALT:
            out.append(((h ^ _SALT[n]) * _MIX) >> _SHIFT)
    return out


def hashes_of(parts: list[bytes]) -> list[list[np.ndarray]]:
    """`[hashes(p) for p in parts]` from one `hashes` call over the parts joined: each part's
    n-grams are a slice of the join's (those across a seam are in no slice)."""
    if len(parts) < 2:
        return [hashes(p) for p in parts]
    whole = hashes(b"".join(parts))
    out, at = [], 0
    for part in parts:
        size = len(part)
        out.append(
            [
                ids[at : at + size - n + 1]
                for n, ids in zip(NGRAMS, whole, strict=False)
                if size >= n
            ]
        )
        at += size
    return out


def occurrences(
    data: bytes, ids: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every n-gram of `data` as (start byte, bucket, start byte of the previous same bucket or -1).

    An n-gram is the first of its bucket in a span [s, e) exactly when it starts there and its
    previous occurrence starts before s, so distinct-bucket sums over any spans follow from
    these three arrays without a loop. `ids`: the `hashes` of `data`, when known. They come grouped by bucket (in no other useful order),
    from a stable two-pass radix argsort (16 low bits, then the high bits): linear time.
    """
    size, k, none = len(data), len(NGRAMS), 1 << BITS
    grid = np.full((size, k), none, dtype=np.uint32)  # position-major, so ties sort by start
    for row, found in enumerate(hashes(data) if ids is None else ids):
        grid[: len(found), row] = found
    flat = grid.ravel()
    order = np.argsort(flat.astype(np.uint16), kind="stable")  # numpy radix-sorts 16-bit keys
    order = order[np.argsort((flat[order] >> 16).astype(np.uint8), kind="stable")]
    order = order[: len(flat) - sum(min(n - 1, size) for n in NGRAMS)]  # `none` sorts last
    buckets = flat[order].astype(np.intp)
    starts = order // k
    prev = np.full(len(order), -1, dtype=np.intp)
    prev[1:] = np.where(buckets[1:] == buckets[:-1], starts[:-1], -1)
    return starts, buckets, prev
