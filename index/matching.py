"""Which documents match a Whoosh query, and which of them rank best, over arrays.

Whoosh evaluates a query document by document through a tree of matcher objects (~1 µs a
posting in Python, ~30 µs a document for a query over several fields). Here each term's
posting list is read whole (from the segment's sidecar when it has one, see fastpostings)
into numpy arrays; a set of documents is a boolean array over the index's document numbers,
so the query tree is evaluated with whole-array AND, OR and NOT, and BM25 is computed for a
whole posting list at once (see ranking). Python code runs per term and segment, not per
posting: at 100,000 documents a word in 90% of them costs a few milliseconds, not a hundred.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import query as wq

from constancia.errors import UsageError
from index.building import sidecar_fields
from index.fastpostings import FastPostings, SidecarReader, sidecar_name
from index.postings import Vocabulary, expand_words, read_postings
from index.schema import GROUPS, VOCABULARY_ID

__all__ = ["DocSet", "Matcher", "SegmentPostings", "WhooshPostings", "nodes", "scoring_leaves"]

#: A set of documents: one bool per document number of the searcher (read-only when cached).
DocSet = npt.NDArray[np.bool_]

_CACHE = 64
_POSTINGS_CACHE = 3_000_000  # postings kept per searcher (~50 MB of arrays)
_MASK_CACHE_BYTES = 64_000_000  # cached document sets (100 KB each at 100,000 documents)
MAX_EXPANSION = 2000
_SCORED_EXPANSION = 24
#: An OR of more terms than this is matched segment by segment (see _union_of_terms).
_WIDE_OR = 16


class WhooshPostings:
    """A term's postings in a segment without a sidecar (a small one, added after a bulk
    build), read through Whoosh: the same arrays as FastPostings."""

    __slots__ = ("_field", "_leaf", "_occurrences", "_text", "ids", "weights")

    def __init__(self, leaf: Any, field: str, text: Any) -> None:
        post = read_postings(leaf, field, text)
        self.ids: np.ndarray = np.array(post.ids, dtype=np.int64)
        self.weights: np.ndarray = np.array(post.weights, dtype=np.float64)
        self._leaf, self._field, self._text = leaf, field, text
        self._occurrences: tuple[np.ndarray, np.ndarray] | None = None

    def occurrences(self) -> tuple[np.ndarray, np.ndarray]:
        """(how many positions each posting has, every position one after another)."""
        if self._occurrences is None:
            post = read_postings(self._leaf, self._field, self._text, values=True)
            assert post.values is not None
            decode = self._leaf.schema[self._field].format.decode_positions
            lists = [decode(v) for v in post.values]
            counts = np.array([len(x) for x in lists], dtype=np.int64)
            flat = np.array([p for x in lists for p in x], dtype=np.uint32)
            self._occurrences = (counts, flat)
        return self._occurrences


SegmentPostings = FastPostings | WhooshPostings


def _frozen(mask: DocSet) -> DocSet:
    mask.flags.writeable = False
    return mask


class Matcher:
    """Document sets and postings of one searcher, with its caches."""

    def __init__(
        self,
        searcher: Any,
        folder: Path | None = None,
        word_cache: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.folder = folder
        self.size = int(self.reader.doc_count_all())
        self.leaves: list[tuple[Any, int]] = list(self.reader.leaf_readers())
        self._word_cache = {} if word_cache is None else word_cache
        self._sidecars: dict[str, SidecarReader | None] = {}
        self._sidecar_fields = frozenset(sidecar_fields(searcher.schema))
        self._dfs: dict[tuple[str, Any], int] = {}
        self._masks: OrderedDict[Any, DocSet] = OrderedDict()
        self._holders: OrderedDict[tuple[str, Any], list[tuple[Any, int]]] = OrderedDict()
        self._postings: OrderedDict[tuple[str, str, Any], SegmentPostings] = OrderedDict()
        self._postings_held = 0
        self._present: DocSet | None = None
        self._segment_terms: dict[tuple[str, str, str], frozenset[bytes]] = {}
        self._all: DocSet | None = None
        self._words: Vocabulary | None = None
        self._people: Vocabulary | None = None

    # -- postings -----------------------------------------------------------------------

    def _sidecar(self, leaf: Any) -> SidecarReader | None:
        """The segment's sidecar of text postings, if it has one (see fastpostings)."""
        segid = leaf.segment().segment_id()
        if segid not in self._sidecars:
            path = self.folder / sidecar_name(leaf.segment()) if self.folder else None
            self._sidecars[segid] = SidecarReader(path) if path and path.exists() else None
        return self._sidecars[segid]

    def _read(self, leaf: Any, field: str, text: Any) -> SegmentPostings:
        sidecar = self._sidecar(leaf) if field in self._sidecar_fields else None
        if sidecar is not None:
            btext = text if isinstance(text, bytes) else text.encode("utf-8")
            found = sidecar.get(field, btext)
            if found is not None:
                return found
        return WhooshPostings(leaf, field, text)

    def postings(self, leaf: Any, field: str, text: Any) -> SegmentPostings:
        """A term's postings in one segment (cached per searcher, bounded)."""
        key = (leaf.segment().segment_id(), field, text)
        found = self._postings.get(key)
        if found is not None:
            self._postings.move_to_end(key)
            return found
        found = self._read(leaf, field, text)
        self._postings[key] = found
        self._postings_held += len(found.ids)
        while self._postings_held > _POSTINGS_CACHE and len(self._postings) > 1:
            self._postings_held -= len(self._postings.popitem(last=False)[1].ids)
        return found

    def df(self, field: str, text: Any) -> int:
        """Whoosh's document frequency of a term, cached: it sums a look-up in each segment
        (~0.8 ms over 22 segments), and ranking asks for each word more than once."""
        key = (field, text)
        df = self._dfs.get(key)
        if df is None:
            df = self._dfs[key] = int(self.reader.doc_frequency(field, text))
            if len(self._dfs) > 4096:
                self._dfs.pop(next(iter(self._dfs)))
        return df

    def leaves_with(self, field: str, text: Any) -> list[tuple[Any, int]]:
        """The segments (reader, first docnum) that hold a term (cached: a term lookup in
        Whoosh's on-disk hash table costs ~10 µs, and a query asks several times)."""
        key = (field, text)
        found = self._holders.get(key)
        if found is None:
            found = [(leaf, off) for leaf, off in self.leaves if key in leaf]
            self._holders[key] = found
            if len(self._holders) > 4096:
                self._holders.popitem(last=False)
        return found

    # -- document sets --------------------------------------------------------------------

    def empty(self) -> DocSet:
        return np.zeros(self.size, dtype=bool)

    def _cached(self, key: Any) -> DocSet | None:
        found = self._masks.get(key)
        if found is not None:
            self._masks.move_to_end(key)
        return found

    def _keep(self, key: Any, mask: DocSet) -> DocSet:
        self._masks[key] = _frozen(mask)
        while len(self._masks) * max(self.size, 1) > _MASK_CACHE_BYTES and len(self._masks) > 1:
            self._masks.popitem(last=False)
        return mask

    def present(self) -> DocSet:
        """Every document not deleted (vocabulary documents included)."""
        if self._present is None:
            mask = np.ones(self.size, dtype=bool)
            for leaf, offset in self.leaves:
                if leaf.has_deletions():
                    deleted = np.fromiter(leaf.deleted_docs_set, dtype=np.int64)
                    mask[deleted + offset] = False
            self._present = _frozen(mask)
        return self._present

    def term_ids(self, field: str, text: Any) -> DocSet:
        """The live documents holding a term (cached per searcher)."""
        key = (field, text)
        found = self._cached(key)
        if found is not None:
            return found
        mask = self.empty()
        for leaf, offset in self.leaves_with(field, text):
            ids = self.postings(leaf, field, text).ids
            mask[ids + offset if offset else ids] = True
        mask &= self.present()
        return self._keep(key, mask)

    def _union_of_terms(self, terms: list[Any]) -> DocSet:
        """The live documents holding any of many terms (a wide expansion): from each
        segment's sidecar in a few queries, instead of a look-up per term and segment."""
        key = ("or", tuple((t.fieldname, t.text) for t in terms))
        cached = self._cached(key)
        if cached is not None:
            return cached
        by_field: dict[str, list[Any]] = {}
        for t in terms:
            by_field.setdefault(t.fieldname, []).append(t.text)
        out = self.empty()
        for field, texts in by_field.items():
            if field not in self._sidecar_fields:
                for text in texts:
                    out |= self.term_ids(field, text)
                continue
            encoded = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
            for leaf, offset in self.leaves:
                sidecar = self._sidecar(leaf)
                if sidecar is None:  # a small segment written without one: term by term
                    held = self._terms_of_segment(leaf, field)
                    for text in encoded:
                        if text in held:
                            ids = self.postings(leaf, field, text).ids
                            out[ids + offset if offset else ids] = True
                else:
                    ids = sidecar.ids_of_terms(field, encoded)
                    out[ids + offset if offset else ids] = True
        out &= self.present()
        return self._keep(key, out)

    def _terms_of_segment(self, leaf: Any, field: str) -> frozenset[bytes]:
        """Every term of ``field`` in a segment without a sidecar (a small one: asking
        Whoosh for each of a thousand terms costs ~15 µs each, in every such segment)."""
        key = ("terms", leaf.segment().segment_id(), field)
        found = self._segment_terms.get(key)
        if found is None:
            found = self._segment_terms[key] = frozenset(leaf.lexicon(field))
        return found

    def live(self) -> DocSet:
        """Every document not deleted, without the vocabulary ones."""
        if self._all is None:
            self._all = _frozen(self.present() & ~self.term_ids("id", VOCABULARY_ID))
        return self._all

    def matches(self, q: Any) -> DocSet:
        """The documents ``q`` matches (scores aside); do not modify the array returned."""
        if isinstance(q, wq.Term):
            return self.term_ids(q.fieldname, q.text)
        if isinstance(q, wq.And | wq.Require):
            parts = [self.matches(c) for c in q.children()]
            if not parts:
                return self.empty()
            if len(parts) == 1:
                return parts[0]
            out = parts[0] & parts[1]
            for p in parts[2:]:
                out &= p
            return out
        if isinstance(q, wq.Or | wq.DisjunctionMax):
            children = list(q.children())
            if len(children) > _WIDE_OR and all(isinstance(c, wq.Term) for c in children):
                return self._union_of_terms(children)
            return self._any(self.matches(c) for c in children)
        if isinstance(q, wq.AndNot):
            return self.matches(q.a) & ~self.matches(q.b)
        if isinstance(q, wq.AndMaybe):
            return self.matches(q.a)
        if isinstance(q, wq.Not):
            return self.live() & ~self.matches(q.query)
        if isinstance(q, wq.Every) and not q.fieldname:
            return self.live()
        if isinstance(q, wq.ConstantScoreQuery | wq.WeightingQuery):
            return self.matches(q.child)
        if isinstance(q, wq.FuzzyTerm) and q.field() == "people":
            # Damerau distance (Whoosh's fuzzy terms count a swap of two letters as two
            # edits: "Sepluveda" would not find "Sepúlveda").
            names = self._names().near(q.text, min(q.maxdist, 2), q.prefixlength)
            return self._any(self.term_ids("people", name) for name in sorted(names))
        if isinstance(q, wq.MultiTerm) and not isinstance(q, wq.Every):
            return self._any(self.term_ids(f, t) for f, t in q.expanded_terms(self.reader))
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return self.empty()
        if isinstance(q, wq.Phrase) and q.slop == 1 and len(q.words) > 1:
            return self.phrase_ids(q.fieldname, tuple(q.words))
        # Anything else: Whoosh's own matcher.
        out = self.empty()
        found = np.fromiter(self.searcher.docs_for_query(q), dtype=np.int64)
        out[found] = True
        return out

    def _any(self, parts: Iterator[DocSet] | Any) -> DocSet:
        out = self.empty()
        for p in parts:
            out |= p
        return out

    # -- phrases --------------------------------------------------------------------------

    def phrase_ids(self, field: str, words: tuple[str, ...], among: DocSet | None = None) -> DocSet:
        """Documents with ``words`` at consecutive positions (only ``among`` these, if
        given; cached per searcher when not)."""
        key = ("phrase", field, words)
        found = self._cached(key)
        if found is not None:
            return found if among is None else found & among
        candidates = self.term_ids(field, words[0]) if among is None else among
        for w in words[1 if among is None else 0 :]:
            candidates = candidates & self.term_ids(field, w)
        hits = self.empty()
        last = len(words) - 1
        holders = [dict(self.leaves_with(field, w)) for w in words]
        for leaf, offset in holders[0].items():
            if not all(leaf in h for h in holders[1:]):
                continue  # a word the segment lacks: no phrase there
            docs = candidates[offset : offset + leaf.doc_count_all()]
            if not docs.any():
                continue
            # Each occurrence as one integer, document and the position where the phrase
            # would end; the phrase occurs where all words give the same integer. Rarest
            # word first: the others are then read only for the documents still in play.
            posts = [self.postings(leaf, field, w) for w in words]
            order = sorted(range(len(words)), key=lambda i: len(posts[i].ids))
            ends: np.ndarray | None = None
            for i in order:
                keys = _position_keys(posts[i], last - i, docs)
                ends = keys if ends is None else _intersect(ends, keys)
                if not ends.size:
                    break
                docs = np.zeros_like(docs)
                docs[(ends >> np.uint64(32)).astype(np.int64)] = True
            if ends is not None and ends.size:
                hits[(ends >> np.uint64(32)).astype(np.int64) + offset] = True
        hits &= candidates  # (sidecars hold deleted documents too)
        if among is not None:
            return hits
        return self._keep(key, hits)

    # -- wildcards, fuzzy terms -----------------------------------------------------------

    def expand(self, q: Any) -> Any:
        """Replace prefix, wildcard and fuzzy queries on the vocabulary by the stems of the
        words they match; keep vocabulary documents out of queries that could match them."""
        q = _rewrite(q, self._expand_leaf)
        if any(isinstance(n, wq.Not | wq.Every) for n in nodes(q)):
            q = wq.AndNot(q, wq.Term("id", VOCABULARY_ID))
        return q

    def _stored_vocabulary(self, leaf: Any) -> frozenset[str] | None:
        sidecar = self._sidecar(leaf)
        return None if sidecar is None else sidecar.vocabulary()

    def _names(self) -> Vocabulary:
        if self._people is None:
            leaves = [leaf for leaf, _ in self.leaves]
            self._people = Vocabulary(leaves, self._word_cache, field="people")
        return self._people

    def _vocabulary(self) -> Vocabulary:
        if self._words is None:
            leaves = [leaf for leaf, _ in self.leaves]
            self._words = Vocabulary(leaves, self._word_cache, self._stored_vocabulary)
        return self._words

    def _expand_leaf(self, leaf: Any) -> Any:
        if not (isinstance(leaf, wq.MultiTerm) and leaf.field() == "words"):
            return leaf
        words = expand_words(self._vocabulary(), leaf)
        if len(words) > MAX_EXPANSION:
            raise UsageError(
                f"'{leaf.text}' matches more than {MAX_EXPANSION} different words",
                hint="give more letters, or fewer wildcards",
            )
        schema = self.searcher.schema
        terms = []
        for group in GROUPS:
            field = f"body_{group}"
            term_of = schema[field].terms_of(words)
            stems = {t for t in (term_of[w] for w in words) if t}
            terms += [wq.Term(field, stem, boost=leaf.boost) for stem in sorted(stems)]
        if not terms:
            return wq.NullQuery
        if len(terms) > _SCORED_EXPANSION:
            return wq.ConstantScoreQuery(wq.Or(terms), leaf.boost)
        return terms[0] if len(terms) == 1 else wq.Or(terms)

    def close(self) -> None:
        """Close the sidecars."""
        for sidecar in self._sidecars.values():
            if sidecar is not None:
                sidecar.close()
        self._sidecars.clear()


_SHIFT = np.uint64(32)


def _position_keys(post: SegmentPostings, shift: int, docs: DocSet) -> np.ndarray:
    """``doc << 32 | position + shift`` for each occurrence of a term in the segment's
    documents ``docs`` (a bool per document of the segment), ascending."""
    ids = post.ids
    counts, positions = post.occurrences()
    keep = docs[ids]
    if not keep.all():
        positions = positions[np.repeat(keep, counts)]
        ids, counts = ids[keep], counts[keep]
    keys: np.ndarray = np.repeat(ids.astype(np.uint64) << _SHIFT, counts)
    keys |= positions.astype(np.uint64) + np.uint64(shift)
    return keys


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values of ascending ``a`` that ascending ``b`` holds too."""
    if a.size > b.size:
        a, b = b, a
    if not b.size:
        return b
    at = np.searchsorted(b, a)
    at[at == b.size] = 0
    found: np.ndarray = a[b[at] == a]
    return found


def scoring_leaves(q: Any, boost: float = 1.0) -> Iterator[tuple[Any, float]]:
    """The parts of ``q`` that add to a score, with their boosts; nothing under a NOT."""
    if isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from scoring_leaves(q.a, boost)
        return
    if isinstance(q, wq.ConstantScoreQuery):
        yield q, boost * q.score
        return
    if isinstance(q, wq.Term | wq.Phrase):
        yield q, boost * q.boost
        return
    if isinstance(q, wq.MultiTerm) and not isinstance(q, wq.Every):
        yield wq.ConstantScoreQuery(q), boost * q.boost
        return
    for child in q.children():
        yield from scoring_leaves(child, boost * getattr(q, "boost", 1.0))


def nodes(q: Any) -> Iterator[Any]:
    yield q
    for child in q.children():
        yield from nodes(child)


def _rewrite(q: Any, fn: Any) -> Any:
    """``q`` with every leaf replaced by ``fn(leaf)``."""
    if q.is_leaf():
        return fn(q)
    return q.apply(lambda child: _rewrite(child, fn))
