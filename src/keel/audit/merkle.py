"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs, as pure functions.

Nothing here touches storage: proofs are built from a `subtree(start, end)` callable that
returns the hash of leaves [start, end), which the store answers from its node table and a
list of leaves answers in memory (`MemoryTree`, the reference the tests compare against).
Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step.

    leaf hash = SHA-256(0x00 || data)      node hash = SHA-256(0x01 || left || right)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof, root or size that does not verify."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def is_perfect(start: int, end: int) -> bool:
    """Whether [start, end) is one stored node: a power-of-two size, aligned to it."""
    size = end - start
    return size > 0 and size & (size - 1) == 0 and start % size == 0


def subtree_from(perfect: Callable[[int, int], bytes]) -> Subtree:
    """MTH of any range, combining the perfect aligned subtrees `perfect(level, index)` gives."""

    def subtree(start: int, end: int) -> bytes:
        if is_perfect(start, end):
            level = (end - start).bit_length() - 1
            return perfect(level, start >> level)
        k = split_point(end - start)
        return node_hash(subtree(start, start + k), subtree(start + k, end))

    return subtree


def root(size: int, subtree: Subtree) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree(0, size)


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 2.1.3.1."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
    return proof[::-1]


def consistency_proof(size1: int, size2: int, subtree: Subtree) -> list[bytes]:
    """PROOF(size1, D[0:size2]) of RFC 9162 2.1.4.1."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    proof: list[bytes] = []
    m, start, end, complete = size1, 0, size2, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree(start, end))
            break
        k = split_point(n)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    return proof[::-1]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf `index` in the tree of `size` with `root_hash`."""
    _check_hash(leaf, "the leaf hash")
    _check_hash(root_hash, "the root hash")
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "a proof hash")
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if r != root_hash:
        raise ProofError("the proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless `proof` shows the tree of `size1` is a prefix of the one of `size2`."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:  # as transparency-dev: the roots are compared, whatever they hold
        if proof:
            raise ProofError("equal sizes take an empty proof")
        if root1 != root2:
            raise ProofError("equal sizes with different roots")
        return
    _check_hash(root1, "the first root")
    _check_hash(root2, "the second root")
    for p in proof:
        _check_hash(p, "a proof hash")
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if fr != root1:
        raise ProofError("the proof does not lead to the first root")
    if sr != root2:
        raise ProofError("the proof does not lead to the second root")


class MemoryTree:
    """A tree over leaves held in memory: the naive reference for tests and small checks."""

    def __init__(self, leaves: Sequence[bytes] = ()):
        self.hashes = [leaf_hash(x) for x in leaves]

    def append(self, data: bytes) -> None:
        self.hashes.append(leaf_hash(data))

    def subtree(self, start: int, end: int) -> bytes:
        if end - start == 1:
            return self.hashes[start]
        k = split_point(end - start)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    @property
    def size(self) -> int:
        return len(self.hashes)

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else size, self.subtree)
