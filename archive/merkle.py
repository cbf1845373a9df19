"""The custody log's Merkle tree: RFC 9162 (Certificate Transparency v2), SHA-256.

Hashes are raw 32-byte ``bytes``. A leaf's hash is ``SHA-256(0x00 || data)``, an inner node's
``SHA-256(0x01 || left || right)``, the empty tree's ``SHA-256("")``; a tree of ``n`` leaves
splits at the largest power of two smaller than ``n`` (RFC 9162 §2.1.1). These are the trees
of RFC 6962 and of every Certificate Transparency and C2SP tlog tool, so any of them can check
our roots and proofs.

Proofs list sibling hashes from the leaf upward, as RFC 9162 §2.1.3 and §2.1.4 define them.
``verify_*`` functions return ``None`` or raise :class:`~constancia.errors.ProofError`;
the proof builders raise ``ValueError`` for sizes or indexes outside the tree (a caller's bug).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from constancia.errors import ProofError

HASH_SIZE = 32

#: The root of the tree with no leaves: SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf whose data is ``data``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node over two child hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root of the tree whose leaves have these hashes, level by level.

    Pairing neighbours and promoting an odd last node unchanged builds exactly the RFC 9162
    tree; it takes O(n) time and no recursion. (:class:`TreeBuilder` reaches the same roots
    another way, which lets the tests check one against the other.)
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class TreeBuilder:
    """A tree grown one leaf at a time, keeping only its compact range (the frontier).

    The frontier holds the roots of the perfect subtrees that the tree's size decomposes into,
    largest first: at most log2(n) hashes. Appending is amortised O(1), :meth:`root` is
    O(log n), so a caller can stream a long log and ask for the root at many sizes.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._size = 0
        self._frontier: list[bytes] = []
        for h in leaf_hashes:
            self.append_leaf_hash(h)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, data: bytes) -> None:
        """Append a leaf holding ``data``."""
        self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, h: bytes) -> None:
        """Append a leaf by its hash (as :func:`leaf_hash` computes it)."""
        if len(h) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(h)}")
        # Each trailing 1-bit of the old size is a perfect subtree of the new leaf's height
        # that the new leaf completes: merge them, like carrying in binary addition.
        n = self._size
        while n & 1:
            h = node_hash(self._frontier.pop(), h)
            n >>= 1
        self._frontier.append(h)
        self._size += 1

    def root(self) -> bytes:
        """The root of the tree at its current size."""
        if not self._frontier:
            return EMPTY_ROOT
        # The smallest subtree is the rightmost; RFC 9162 folds from the right.
        r = self._frontier[-1]
        for h in reversed(self._frontier[:-1]):
            r = node_hash(h, r)
        return r


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``len(hashes)`` leaves (RFC 9162
    §2.1.3.1, PATH), leaf-side first. O(n): every sibling subtree is hashed once."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n} leaves")
    path: list[bytes] = []  # collected from the root down; reversed at the end
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(root_from_leaf_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root_from_leaf_hashes(hashes[lo : lo + k]))
            lo += k
    path.reverse()
    return path


class ProofBuilder:
    """Inclusion proofs for many leaves of one tree, each subtree hashed once.

    The levels of perfect subtrees are built once (O(n)); the subtrees on the tree's ragged
    right edge are memoised. A proof then costs O(log n), so a package with a thousand events
    of a long log does not rehash the log a thousand times, as :func:`inclusion_proof` would.
    """

    def __init__(self, hashes: Sequence[bytes]) -> None:
        self.size = len(hashes)
        self._levels: list[list[bytes]] = [list(hashes)]
        while len(self._levels[-1]) > 1:
            below = self._levels[-1]
            self._levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        self._edge: dict[tuple[int, int], bytes] = {}

    def _subtree(self, lo: int, hi: int) -> bytes:
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            return self._levels[width.bit_length() - 1][lo // width]
        key = (lo, hi)
        if key not in self._edge:
            k = _split(width)
            self._edge[key] = node_hash(self._subtree(lo, lo + k), self._subtree(lo + k, hi))
        return self._edge[key]

    def root(self) -> bytes:
        return self._subtree(0, self.size) if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The same path as :func:`inclusion_proof`."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size} leaves")
        path: list[bytes] = []
        lo, hi = 0, self.size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k))
                lo += k
        path.reverse()
        return path


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the tree of
    ``len(hashes)`` leaves (RFC 9162 §2.1.4.1, PROOF and SUBPROOF). Empty when the sizes are
    equal or ``old_size`` is 0: every tree extends the empty tree."""
    n = len(hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"a tree of {n} leaves cannot extend one of {old_size}")
    if old_size in (0, n):
        return []
    m = old_size
    lo, hi = 0, n
    complete = True  # SUBPROOF's b: is the subtree at [lo, hi) still wholly the old tree's?
    tail: list[bytes] = []  # hashes SUBPROOF appends after the recursive part, outermost first
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            tail.append(root_from_leaf_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            tail.append(root_from_leaf_hashes(hashes[lo : lo + k]))
            m -= k
            lo += k
            complete = False
    head = [] if complete else [root_from_leaf_hashes(hashes[lo:hi])]
    return head + tail[::-1]


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"the {what} has {len(h)} bytes; a SHA-256 hash has {HASH_SIZE}")


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf with hash ``leaf_hash`` is leaf ``index`` of the tree of ``size``
    leaves whose root is ``root`` (RFC 9162 §2.1.3.2). Raises ProofError otherwise."""
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root hash", root)
    for p in proof:
        _check_hash("proof hash", p)
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is high")
    if not _same(r, root):
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with that root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with root ``old_root`` is a prefix of the
    tree of ``new_size`` leaves with root ``new_root`` (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots; ``old_size`` 0 needs an empty proof and
    ``old_root`` equal to :data:`EMPTY_ROOT`. Raises ProofError otherwise.
    """
    _check_hash("old root hash", old_root)
    _check_hash("new root hash", new_root)
    for p in proof:
        _check_hash("proof hash", p)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of {new_size} leaves cannot extend one of {old_size}")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between these sizes must be empty")
        if old_size == 0 and not _same(old_root, EMPTY_ROOT):
            raise ProofError("the old root is not the root of the empty tree")
        if old_size == new_size and not _same(old_root, new_root):
            raise ProofError(f"the roots of the two trees of {old_size} leaves differ")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one: the proof omits its root.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is high")
    if not _same(fr, old_root):
        raise ProofError(f"the proof does not lead to the old root of {old_size} leaves")
    if not _same(sr, new_root):
        raise ProofError(f"the proof does not lead to the new root of {new_size} leaves")
