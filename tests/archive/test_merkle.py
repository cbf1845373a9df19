"""RFC 9162 Merkle trees against transparency-dev/merkle's published vectors and properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from constancia.errors import ProofError

# Vectors from github.com/transparency-dev/merkle, proof/verify_test.go (leaves, roots,
# inclusionProofs, consistencyProofs). Inclusion vectors there count leaves from 1.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
H96A = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H5F0 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H6B4 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
HBC1 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
HCA8 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
HD37 = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
INCLUSION = [  # (leaf number from 1, tree size, proof)
    (1, 1, []),
    (1, 8, [H96A, H5F0, H6B4]),
    (6, 8, [HBC1, HCA8, HD37]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", H5F0, HBC1]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [H96A, H5F0, H6B4]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", HCA8, HD37]),
    (2, 5, [H5F0, HBC1]),
    (6, 7, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        HD37,
    ]),
]  # fmt: skip
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
HASHES = [leaf_hash(d) for d in LEAVES]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, recursively, word for word: the reference for small trees."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


@pytest.mark.parametrize("size", range(1, 9))
def test_published_roots(size: int) -> None:
    assert root_from_leaf_hashes(HASHES[:size]) == ROOTS[size - 1]
    assert TreeBuilder(HASHES[:size]).root() == ROOTS[size - 1]


def test_empty_tree_and_builder_append() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == TreeBuilder().root()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    tree = TreeBuilder()
    for data in LEAVES:
        tree.append(data)
    assert (tree.size, tree.root()) == (8, ROOTS[7])


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[int, int, list[bytes], bytes, bytes]]:
    """Go's corruptInclusionProof: each of these must fail."""
    probes = [
        (index - 1, size, proof, root, leaf),
        (index + 1, size, proof, root, leaf),
        (index ^ 2, size, proof, root, leaf),
        (index, size * 2, proof, root, leaf),
        (index, size // 2, proof, root, leaf),
        (index, size, proof, root, b"WrongLeaf"),
        (index, size, proof, EMPTY_ROOT, leaf),
        (index, size, proof, SOME_HASH, leaf),
        (index, size, [*proof, b""], root, leaf),
        (index, size, [*proof, root], root, leaf),
        (index, size, [b"", *proof], root, leaf),
        (index, size, [root, *proof], root, leaf),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        probes.append((index, size, flipped, root, leaf))
    if proof:
        probes.append((index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append((index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("number", "size", "proof_hex"), INCLUSION)
def test_published_inclusion_proofs(number: int, size: int, proof_hex: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in proof_hex]
    index, root, leaf = number - 1, ROOTS[size - 1], HASHES[number - 1]
    assert inclusion_proof(HASHES[:size], index) == proof
    verify_inclusion(leaf, index, size, proof, root)
    for i, n, p, r, h in _inclusion_probes(index, size, proof, root, leaf):
        with pytest.raises(ProofError):
            verify_inclusion(h, i, n, p, r)


def _consistency_probes(
    m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    """Go's corruptConsistencyProof: each of these must fail."""
    wrong = b"WrongRoot".ljust(32, b"!")
    probes = [
        (m - 1, n, r1, r2, proof),
        (m + 1, n, r1, r2, proof),
        (m ^ 2, n, r1, r2, proof),
        (m, n * 2, r1, r2, proof),
        (m, n // 2, r1, r2, proof),
        (m, n, wrong, r2, proof),
        (m, n, r1, wrong, proof),
        (m, n, r2, r1, proof),
        (m, n, r1, r2, []),
        (m, n, r1, r2, [*proof, b""]),
        (m, n, r1, r2, [*proof, r1]),
        (m, n, r1, r2, [*proof, r2]),
        (m, n, r1, r2, [b"", *proof]),
        (m, n, r1, r2, [r1, *proof]),
        (m, n, r1, r2, [r2, *proof]),
        (m, n, r1, r2, [proof[0], *proof]),
        (m, n, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        probes.append((m, n, r1, r2, flipped))
    return probes


@pytest.mark.parametrize(("old", "new", "proof_hex"), CONSISTENCY)
def test_published_consistency_proofs(old: int, new: int, proof_hex: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in proof_hex]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    assert consistency_proof(HASHES[:new], old) == proof
    verify_consistency(old, new, r1, r2, proof)
    if proof:
        for m, n, a, b, p in _consistency_probes(old, new, r1, r2, proof):
            with pytest.raises(ProofError):
                verify_consistency(m, n, a, b, p)


# From verify_test.go TestVerifyConsistency. Deliberate difference: Go accepts any old root
# for old size 0; we require the empty tree's root, so those rows use EMPTY_ROOT.
R1, R2 = hashlib.sha256(b"don't care 1").digest(), hashlib.sha256(b"don't care 2").digest()


@pytest.mark.parametrize(
    ("m", "n", "r1", "r2", "proof", "ok"),
    [
        (0, 0, R1, R2, [], False),
        (1, 1, R1, R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, R2, [], True),
        (0, 1, R1, R2, [], False),
        (1, 1, R2, R2, [], True),
        (1, 0, R1, R2, [], False),
        (2, 1, R1, R2, [], False),
        (1, 2, R1, R2, [], False),
        (0, 0, EMPTY_ROOT, R2, [], False),
        (1, 1, EMPTY_ROOT, R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(
    m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
) -> None:
    if ok:
        verify_consistency(m, n, r1, r2, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(m, n, r1, r2, proof)


def test_inclusion_edge_cases() -> None:
    # verify_test.go TestVerifyInclusion / TestVerifyInclusionSingleEntry.
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


def test_proof_builders_reject_sizes_outside_the_tree() -> None:
    for index in (-1, 8):
        with pytest.raises(ValueError):
            inclusion_proof(HASHES, index)
    with pytest.raises(ValueError):
        consistency_proof(HASHES[:3], 4)
    assert consistency_proof(HASHES, 0) == consistency_proof(HASHES, 8) == []


# Node lists from transparency-dev/merkle proof/proof_test.go (TestInclusion, TestConsistency):
# (level, index) names the perfect subtree over leaves [index << level, (index + 1) << level);
# nodes [begin, end) are folded into one ("rehash") as hash(next, accumulated).
NODE_INCLUSION = [  # (size, index, nodes, begin, end)
    (7, 0, [(0, 1), (1, 1), (0, 6), (1, 2)], 2, 4),
    (7, 3, [(0, 2), (1, 0), (0, 6), (1, 2)], 2, 4),
    (7, 4, [(0, 5), (0, 6), (2, 0)], 0, 0),
    (7, 6, [(1, 2), (2, 0)], 0, 0),
    (5, 3, [(0, 2), (1, 0), (0, 4)], 0, 0),
    (6, 4, [(0, 5), (2, 0)], 0, 0),
    (15, 10, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)], 2, 4),
    (31, 24, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)], 2, 4),
    (95, 81, [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)], 3, 6),
]
NODE_CONSISTENCY = [  # (old size, new size, nodes, begin, end)
    (1, 6, [(0, 1), (1, 1), (1, 2)], 0, 0),
    (2, 8, [(1, 1), (2, 1)], 0, 0),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)], 3, 5),
    (4, 7, [(0, 6), (1, 2)], 0, 2),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)], 0, 0),
    (6, 7, [(1, 2), (0, 6), (2, 0)], 0, 0),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)], 0, 0),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)], 0, 0),
    (1, 7, [(0, 1), (1, 1), (0, 6), (1, 2)], 2, 4),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)], 2, 4),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)], 1, 4),
    (81, 95, [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)], 4, 7),
]
BIG = [leaf_hash(i.to_bytes(4, "big")) for i in range(95)]


def _expected(nodes: list[tuple[int, int]], begin: int, end: int) -> list[bytes]:
    hashes = [mth(BIG[i << lvl : (i + 1) << lvl]) for lvl, i in nodes]
    if end - begin > 1:
        acc = hashes[begin]
        for h in hashes[begin + 1 : end]:
            acc = node_hash(h, acc)
        hashes[begin:end] = [acc]
    return hashes


@pytest.mark.parametrize(("size", "index", "nodes", "begin", "end"), NODE_INCLUSION)
def test_published_inclusion_node_lists(
    size: int, index: int, nodes: list[tuple[int, int]], begin: int, end: int
) -> None:
    assert inclusion_proof(BIG[:size], index) == _expected(nodes, begin, end)


@pytest.mark.parametrize(("old", "new", "nodes", "begin", "end"), NODE_CONSISTENCY)
def test_published_consistency_node_lists(
    old: int, new: int, nodes: list[tuple[int, int]], begin: int, end: int
) -> None:
    assert consistency_proof(BIG[:new], old) == _expected(nodes, begin, end)


def test_a_million_leaves_without_recursion() -> None:
    # n identical leaves: a perfect subtree of 2^k of them has root r_k = node(r_{k-1},
    # r_{k-1}), so the expected root follows from the binary digits of n.
    n, h = 1_000_003, leaf_hash(b"x")
    perfect = [h]
    for _ in range(n.bit_length()):
        perfect.append(node_hash(perfect[-1], perfect[-1]))
    parts = [perfect[k] for k in range(n.bit_length()) if n >> k & 1]  # smallest first
    expected = parts[0]
    for p in parts[1:]:
        expected = node_hash(p, expected)
    assert root_from_leaf_hashes([h] * n) == expected


unique_leaves = st.lists(st.binary(max_size=6), min_size=1, max_size=40, unique=True)


@given(unique_leaves)
def test_builder_and_level_root_match_the_rfc_for_every_prefix(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    tree = TreeBuilder()
    for n, h in enumerate(hashes, start=1):
        tree.append_leaf_hash(h)
        assert tree.size == n
        assert tree.root() == root_from_leaf_hashes(hashes[:n]) == mth(hashes[:n])


@given(unique_leaves, st.data())
def test_every_inclusion_proof_verifies_and_no_other(
    data: list[bytes], draw: st.DataObject
) -> None:
    hashes = [leaf_hash(d) for d in data]
    n, root = len(hashes), root_from_leaf_hashes(hashes)
    changed = draw.draw(st.integers(0, n - 1))
    other_root = root_from_leaf_hashes(
        [*hashes[:changed], leaf_hash(b"changed" * 2), *hashes[changed + 1 :]]
    )
    for i, h in enumerate(hashes):
        proof = inclusion_proof(hashes, i)
        verify_inclusion(h, i, n, proof, root)
        if n > 1:
            with pytest.raises(ProofError):
                verify_inclusion(h, (i + 1) % n, n, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"not a leaf"), i, n, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(h, i, n, proof, other_root)


@given(unique_leaves, st.data())
def test_every_consistency_proof_verifies_and_a_rewrite_fails(
    data: list[bytes], draw: st.DataObject
) -> None:
    hashes = [leaf_hash(d) for d in data]
    n, new_root = len(hashes), root_from_leaf_hashes(hashes)
    for m in range(1, n + 1):
        old_root = root_from_leaf_hashes(hashes[:m])
        proof = consistency_proof(hashes, m)
        verify_consistency(m, n, old_root, new_root, proof)
        i = draw.draw(st.integers(0, m - 1))
        rewritten = [*hashes[:i], leaf_hash(b"rewritten" * 2), *hashes[i + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(m, n, root_from_leaf_hashes(rewritten[:m]), new_root, proof)
        # A keeper who rewrote the log cannot prove the new tree extends the old checkpoint.
        with pytest.raises(ProofError):
            rewritten_root = root_from_leaf_hashes(rewritten)
            verify_consistency(m, n, old_root, rewritten_root, consistency_proof(rewritten, m))


def test_all_proofs_of_every_tree_up_to_70_leaves() -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    roots = [root_from_leaf_hashes(hashes[:n]) for n in range(71)]
    for n in range(1, 71):
        for i in range(n):
            verify_inclusion(hashes[i], i, n, inclusion_proof(hashes[:n], i), roots[n])
        for m in range(n + 1):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(hashes[:n], m))
