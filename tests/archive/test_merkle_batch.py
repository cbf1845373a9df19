"""The batch proof builder gives exactly the proofs and roots of the one-at-a-time functions."""

from __future__ import annotations

import hashlib

import pytest

from archive import merkle


def _hashes(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@pytest.mark.parametrize("n", [*range(1, 34), 100, 257])
def test_batch_proofs_equal_single_proofs(n: int) -> None:
    hashes = _hashes(n)
    builder = merkle.ProofBuilder(hashes)
    assert builder.root() == merkle.root_from_leaf_hashes(hashes)
    for i in range(n):
        proof = builder.inclusion_proof(i)
        assert proof == merkle.inclusion_proof(hashes, i)
        merkle.verify_inclusion(hashes[i], i, n, proof, builder.root())


def test_batch_builder_rejects_leaves_outside_the_tree() -> None:
    with pytest.raises(ValueError):
        merkle.ProofBuilder(_hashes(3)).inclusion_proof(3)
    assert merkle.ProofBuilder([]).root() == merkle.EMPTY_ROOT
