"""Merkle hashing and proofs against RFC 6962 vectors, transparency-dev probes, and a reference."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.audit import merkle
from tests.conftest import VECTORS

MERKLE = VECTORS / "merkle"


def load(name):
    return json.loads((MERKLE / name).read_text())


def unhex(values):
    return [bytes.fromhex(v) for v in values or []]


def test_rfc6962_leaf_and_root_hashes():
    core = load("rfc6962_core_vectors.json")
    leaves = unhex(core["leaf_inputs_hex"])
    assert [merkle.leaf_hash(x).hex() for x in leaves] == core["leaf_hashes_hex"]
    tree = merkle.MemoryTree(leaves)
    for size, expected in core["root_hashes_hex_by_tree_size"].items():
        assert merkle.root(int(size), tree.subtree).hex() == expected


def test_rfc6962_golden_proofs_are_produced_and_verify():
    core = load("rfc6962_core_vectors.json")
    tree = merkle.MemoryTree(unhex(core["leaf_inputs_hex"]))
    for case in core["inclusion_proofs"]:
        proof = merkle.inclusion_proof(case["leaf_index"], case["tree_size"], tree.subtree)
        assert [p.hex() for p in proof] == case["proof_hex"]
        merkle.verify_inclusion(
            case["leaf_index"],
            case["tree_size"],
            bytes.fromhex(case["leaf_hash_hex"]),
            proof,
            bytes.fromhex(case["root_hex"]),
        )
    for case in core["consistency_proofs"]:
        if case["size1"] < case["size2"]:
            proof = merkle.consistency_proof(case["size1"], case["size2"], tree.subtree)
            assert [p.hex() for p in proof] == case["proof_hex"]
        merkle.verify_consistency(
            case["size1"],
            case["size2"],
            unhex(case["proof_hex"]),
            bytes.fromhex(case["root1_hex"]),
            bytes.fromhex(case["root2_hex"]),
        )


@pytest.mark.parametrize(
    "probe", load("transparency_dev_inclusion_probes.json")["probes"], ids=lambda p: p["file"]
)
def test_inclusion_probes(probe):
    args = (
        probe["leafIdx"],
        probe["treeSize"],
        bytes.fromhex(probe["leafHash_hex"] or ""),
        unhex(probe["proof_hex"]),
        bytes.fromhex(probe["root_hex"] or ""),
    )
    if probe["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize(
    "probe", load("transparency_dev_consistency_probes.json")["probes"], ids=lambda p: p["file"]
)
def test_consistency_probes(probe):
    args = (
        probe["size1"],
        probe["size2"],
        unhex(probe["proof_hex"]),
        bytes.fromhex(probe["root1_hex"] or ""),
        bytes.fromhex(probe["root2_hex"] or ""),
    )
    if probe["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_any_tree_gives_proofs_that_verify_and_any_bit_flip_is_rejected(leaves, data):
    tree = merkle.MemoryTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    root = tree.root(size)
    proof = merkle.inclusion_proof(index, size, tree.subtree)
    merkle.verify_inclusion(index, size, tree.hashes[index], proof, root)
    # flip one bit of the proof, the root or the leaf: rejected
    target = data.draw(st.sampled_from(["proof", "root", "leaf"] if proof else ["root", "leaf"]))
    bit = data.draw(st.integers(0, 255))

    def flip(h: bytes) -> bytes:
        return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]

    bad_proof, bad_root, bad_leaf = list(proof), root, tree.hashes[index]
    if target == "proof":
        i = data.draw(st.integers(0, len(proof) - 1))
        bad_proof[i] = flip(proof[i])
    elif target == "root":
        bad_root = flip(root)
    else:
        bad_leaf = flip(bad_leaf)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, bad_leaf, bad_proof, bad_root)
    # consistency from any smaller size
    size1 = data.draw(st.integers(1, size))
    cproof = merkle.consistency_proof(size1, size, tree.subtree)
    merkle.verify_consistency(size1, size, cproof, tree.root(size1), root)
    if cproof:
        i = data.draw(st.integers(0, len(cproof) - 1))
        cproof[i] = flip(cproof[i])
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(size1, size, cproof, tree.root(size1), root)
