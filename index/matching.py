"""Which documents match a Whoosh query, and which of them rank best, at C speed.

Whoosh evaluates a query document by document through a tree of matcher objects (~1 µs a
posting in Python, ~30 µs a document for a query over several fields). Here each term's
posting list is read whole (from the segment's sidecar when it has one, see fastpostings),
kept as a set of document numbers, and the query tree is evaluated with set operations;
BM25 is computed with ``map`` over builtins. Python code then runs per term and segment,
not per posting.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN as _LENGTHS
from whoosh.util.numeric import byte_to_length

from constancia.errors import UsageError
from index.building import sidecar_fields
from index.fastpostings import FastPostings, SidecarReader, sidecar_name
from index.postings import Postings, Vocabulary, expand_words, read_postings
from index.schema import GROUPS, VOCABULARY_ID

__all__ = ["Matcher"]

# BM25, with Whoosh's defaults.
B = 0.75
K1 = 1.2
_CACHE = 64
_THIRTY_TWO = itertools.repeat(32)
_POSTINGS_CACHE = 1_500_000  # postings kept per searcher (~100 MB)
_TERM_CACHE_IDS = 1_500_000  # document numbers kept in the term cache (~60 MB)
MAX_EXPANSION = 2000
PROXIMITY_POOL = 100
_SCORED_EXPANSION = 24
#: An OR of more terms than this is matched segment by segment (see _union_of_terms).
_WIDE_OR = 16
#: Score only the matched documents when the commonest word has this many times more.
_FEW = 4


class Matcher:
    """Match sets and ranking on one searcher, with its caches."""

    def __init__(
        self,
        searcher: Any,
        folder: Path | None = None,
        word_cache: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.folder = folder
        self._word_cache = {} if word_cache is None else word_cache
        self._sidecars: dict[str, SidecarReader | None] = {}
        self._sidecar_fields = frozenset(sidecar_fields(searcher.schema))
        self._phrases: OrderedDict[str, frozenset[int]] = OrderedDict()
        self._dfs: dict[tuple[str, Any], int] = {}
        self._unions: OrderedDict[tuple[tuple[str, Any], ...], frozenset[int]] = OrderedDict()
        self._holders: OrderedDict[tuple[str, Any], list[tuple[Any, int]]] = OrderedDict()
        self._terms: OrderedDict[tuple[str, Any], frozenset[int]] = OrderedDict()
        self._postings: OrderedDict[tuple[str, str, Any], Postings | FastPostings] = OrderedDict()
        self._postings_held = 0
        self._term_ids_held = 0
        self._all: frozenset[int] | None = None
        self._norm_cache: dict[tuple[str, str], list[float]] = {}
        self._words: Vocabulary | None = None
        self._people: Vocabulary | None = None

    # -- match sets: which documents match, at C speed ------------------------------------

    def _sidecar(self, leaf: Any) -> SidecarReader | None:
        """The segment's sidecar of text postings, if it has one (see fastpostings)."""
        segid = leaf.segment().segment_id()
        if segid not in self._sidecars:
            path = self.folder / sidecar_name(leaf.segment()) if self.folder else None
            self._sidecars[segid] = SidecarReader(path) if path and path.exists() else None
        return self._sidecars[segid]

    def _read(self, leaf: Any, field: str, text: Any) -> Postings | FastPostings:
        sidecar = self._sidecar(leaf) if field in self._sidecar_fields else None
        if sidecar is not None:
            btext = text if isinstance(text, bytes) else text.encode("utf-8")
            found = sidecar.get(field, btext)
            if found is not None:
                return found
        return read_postings(leaf, field, text)

    def _position_keys(
        self,
        leaf: Any,
        field: str,
        word: str,
        wanted: set[int],
        shift: int,
        docs: set[int] | None,
    ) -> set[int]:
        """``doc << 32 | position + shift`` for each occurrence of ``word`` in a segment
        (only in ``docs``, when given)."""
        post = self._segment_postings(leaf, field, word)
        if isinstance(post, FastPostings):
            return post.position_keys(shift, docs)
        if docs is not None:
            wanted = wanted & docs
        # A segment without a sidecar (small: added after the bulk build): through Whoosh.
        post = read_postings(leaf, field, word, values=True)
        assert post.values is not None
        decode = self.searcher.schema[field].format.decode_positions
        return {
            d << 32 | p + shift
            for d, value in zip(post.ids, post.values, strict=True)
            if d in wanted
            for p in decode(value)
        }

    def _segment_postings(self, leaf: Any, field: str, text: Any) -> Postings | FastPostings:
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

    def _df(self, field: str, text: Any) -> int:
        """Whoosh's document frequency of a term, cached: it sums a look-up in each segment
        (~0.8 ms over 22 segments), and ranking asks for each word more than once."""
        key = (field, text)
        df = self._dfs.get(key)
        if df is None:
            df = self._dfs[key] = int(self.reader.doc_frequency(field, text))
            if len(self._dfs) > 4096:
                self._dfs.pop(next(iter(self._dfs)))
        return df

    def _leaves_with(self, field: str, text: Any) -> list[tuple[Any, int]]:
        """The segments (reader, first docnum) that hold a term (cached: a term lookup in
        Whoosh's on-disk hash table costs ~10 µs, and a query asks several times)."""
        key = (field, text)
        found = self._holders.get(key)
        if found is None:
            found = [(leaf, off) for leaf, off in self.reader.leaf_readers() if key in leaf]
            self._holders[key] = found
            if len(self._holders) > 4096:
                self._holders.popitem(last=False)
        return found

    def term_ids(self, field: str, text: Any) -> frozenset[int]:
        """Global docnums of the live documents holding a term (cached per searcher)."""
        key = (field, text)
        found = self._terms.get(key)
        if found is not None:
            self._terms.move_to_end(key)
            return found
        ids: set[int] = set()
        for leaf, offset in self._leaves_with(field, text):
            local = self._segment_postings(leaf, field, text).ids
            ids.update(map(offset.__add__, local) if offset else local)
            if leaf.has_deletions():
                ids.difference_update(d + offset for d in leaf.deleted_docs_set)
        found = frozenset(ids)
        self._terms[key] = found
        self._term_ids_held += len(found)
        while self._term_ids_held > _TERM_CACHE_IDS and len(self._terms) > 1:
            self._term_ids_held -= len(self._terms.popitem(last=False)[1])
        return found

    def _union_of_terms(self, terms: list[Any]) -> frozenset[int]:
        """The live documents holding any of many terms (a wide expansion): from each
        segment's sidecar in a few queries, instead of a look-up per term and segment."""
        key = tuple((t.fieldname, t.text) for t in terms)
        cached = self._unions.get(key)
        if cached is not None:
            return cached
        by_field: dict[str, list[Any]] = {}
        for t in terms:
            by_field.setdefault(t.fieldname, []).append(t.text)
        out: set[int] = set()
        for field, texts in by_field.items():
            if field not in self._sidecar_fields:
                for text in texts:
                    out |= self.term_ids(field, text)
                continue
            encoded = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
            for leaf, offset in self.reader.leaf_readers():
                sidecar = self._sidecar(leaf)
                if sidecar is None:  # a small segment written without one: term by term
                    local: set[int] = set()
                    for text in texts:
                        if (field, text) in leaf:
                            local.update(self._segment_postings(leaf, field, text).ids)
                else:
                    local = sidecar.ids_of_terms(field, encoded)
                if leaf.has_deletions():
                    local.difference_update(leaf.deleted_docs_set)
                out.update(map(offset.__add__, local) if offset else local)
        found = self._unions[key] = frozenset(out)
        if len(self._unions) > 8:  # matching and ranking ask once each per query
            self._unions.popitem(last=False)
        return found

    def live(self) -> frozenset[int]:
        if self._all is None:
            self._all = frozenset(self.reader.all_doc_ids()) - self.term_ids("id", VOCABULARY_ID)
        return self._all

    def matches(self, q: Any) -> frozenset[int] | set[int]:
        """The set of documents ``q`` matches (scores aside)."""
        if isinstance(q, wq.Term):
            text = q.text
            return self.term_ids(q.fieldname, text)
        if isinstance(q, wq.And | wq.Require):
            parts = sorted((self.matches(c) for c in q.children()), key=len)
            if not parts:
                return frozenset()
            out = set(parts[0])
            for p in parts[1:]:
                out &= p
            return out
        if isinstance(q, wq.Or | wq.DisjunctionMax):
            children = list(q.children())
            if len(children) > _WIDE_OR and all(isinstance(c, wq.Term) for c in children):
                return self._union_of_terms(children)
            out = set()
            for c in children:
                out |= self.matches(c)
            return out
        if isinstance(q, wq.AndNot):
            return set(self.matches(q.a)) - self.matches(q.b)
        if isinstance(q, wq.AndMaybe):
            return self.matches(q.a)
        if isinstance(q, wq.Not):
            return self.live() - self.matches(q.query)
        if isinstance(q, wq.Every) and not q.fieldname:
            return self.live()
        if isinstance(q, wq.ConstantScoreQuery | wq.WeightingQuery):
            return self.matches(q.child)
        if isinstance(q, wq.FuzzyTerm) and q.field() == "people":
            # Damerau distance (Whoosh's fuzzy terms count a swap of two letters as two
            # edits: "Sepluveda" would not find "Sepúlveda").
            out = set()
            for name in self._names().near(q.text, min(q.maxdist, 2), q.prefixlength):
                out |= self.term_ids("people", name)
            return out
        if isinstance(q, wq.MultiTerm) and not isinstance(q, wq.Every):
            out = set()
            for field, text in q.expanded_terms(self.reader):
                out |= self.term_ids(field, text)
            return out
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return frozenset()
        if isinstance(q, wq.Phrase) and q.slop == 1 and len(q.words) > 1:
            return self._phrase_ids(q.fieldname, tuple(q.words))
        # Phrases and anything else: Whoosh's own matcher, on the candidates only.
        return set(self.searcher.docs_for_query(q))

    def _phrase_ids(
        self, field: str, words: tuple[str, ...], among: set[int] | None = None
    ) -> frozenset[int]:
        """Documents with ``words`` at consecutive positions (only ``among`` these, if
        given; cached per searcher when not)."""
        key = f"phrase:{field}:{' '.join(words)}"
        found = self._phrases.get(key)
        if found is not None:
            return found if among is None else found & among
        candidates = set(self.term_ids(field, words[0]) if among is None else among)
        for w in words[1 if among is None else 0 :]:
            candidates &= self.term_ids(field, w)
        hits: set[int] = set()
        last = len(words) - 1
        holders = [dict(self._leaves_with(field, w)) for w in words]
        for leaf, offset in holders[0].items():
            if not all(leaf in h for h in holders[1:]):
                continue  # a word the segment lacks: no phrase there
            local: set[int] = set()
            if self._sidecar(leaf) is None or field not in self._sidecar_fields:
                size = leaf.doc_count_all()
                local = {d - offset for d in candidates if offset <= d < offset + size}
                if not local:
                    continue
            # Each occurrence as one integer, document and the position where the phrase
            # would end; the phrase occurs where all words give the same integer. Rarest
            # word first: the others are then read only for the documents still in play.
            sizes = [len(self._segment_postings(leaf, field, w).ids) for w in words]
            order = sorted(range(len(words)), key=sizes.__getitem__)
            ends: set[int] | None = None
            for i in order:
                if ends is not None:
                    docs: set[int] | None = set(map(operator.rshift, ends, _THIRTY_TWO))
                elif among is not None:  # a few documents: read only theirs
                    size = leaf.doc_count_all()
                    docs = {d - offset for d in candidates if offset <= d < offset + size}
                    if not docs:
                        break
                else:
                    docs = None
                keys = self._position_keys(leaf, field, words[i], local, last - i, docs)
                ends = keys if ends is None else ends & keys
                if not ends:
                    break
            if ends:
                hits.update(map(offset.__add__, map(operator.rshift, ends, _THIRTY_TWO)))
        found = frozenset(hits & candidates)  # (sidecars hold deleted documents too)
        if among is not None:
            return found
        self._phrases[key] = found
        if len(self._phrases) > _CACHE:
            self._phrases.popitem(last=False)
        return found

    # -- ranking: BM25 over posting blocks, for the matched documents only ---------------

    def _norms(self, reader: Any, field: str, avgdl: float) -> list[float]:
        """K1·(1 − B + B·length/avgdl) for each document of a segment (cached)."""
        key = (reader.segment().segment_id(), field)
        norms = self._norm_cache.get(key)
        if norms is None:
            perdoc = reader._perdoc  # the lengths column, read whole (W3 codec)
            lengths = (
                perdoc.column_reader(f"_{field}_len", _LENGTHS).load()
                if perdoc.has_column(f"_{field}_len")
                else bytes(reader.doc_count_all())
            )
            table = [K1 * (1 - B + B * byte_to_length(i) / avgdl) for i in range(256)]
            norms = [table[b] for b in lengths]
            self._norm_cache[key] = norms
        return norms

    def _score_term(
        self, field: str, text: Any, boost: float, only: list[int] | None = None
    ) -> tuple[int, dict[int, float]] | None:
        """BM25 of one term: (its postings, a document → score dict), scored only for the
        documents ``only`` (sorted) if given; None if no document holds it."""
        reader = self.reader
        df = self._df(field, text)
        if not df:
            return None
        n = max(len(self.live()), 1)  # documents, without the vocabulary ones
        avgdl = max(reader.field_length(field) / n, 1.0)
        weight = boost * (K1 + 1) * math.log(1 + (n - df + 0.5) / (df + 0.5))
        parts = []
        postings = 0
        for leaf, offset in self._leaves_with(field, text):
            norms = self._norms(leaf, field, avgdl)
            post = self._segment_postings(leaf, field, text)
            postings += len(post.ids)
            if only is not None:
                parts.append(_score_some(post, norms, weight, offset, leaf.doc_count_all(), only))
                continue
            # BM25 at C speed: map() over builtins runs no Python bytecode per posting.
            tf = post.weights
            denominators = map(operator.add, tf, map(norms.__getitem__, post.ids))
            scores = map(operator.truediv, map(weight.__mul__, tf), denominators)
            ids = map(offset.__add__, post.ids) if offset else post.ids
            parts.append(dict(zip(ids, scores, strict=True)))
        if not parts:
            return None
        merged = parts[0]
        for part in parts[1:]:  # segments hold different documents: one dict for the term
            merged.update(part)
        return postings, merged

    def rank(
        self, main: Any, matched: Any, top: int, proximity: Any = None
    ) -> list[tuple[int, float]]:
        """The ``top`` best of ``matched`` for ``main``, best first (ties: index order).

        ``proximity``, a query of phrases: among the PROXIMITY_POOL best, the documents it
        matches rank first, so that the words written together come before the same words
        scattered (checked on a few documents only: cheap).
        """
        if proximity is None:
            return self._rank(main, matched, top)
        pool = self._rank(main, matched, max(top, PROXIMITY_POOL))
        among = {d for d, _ in pool}
        together: set[int] = set()
        for leaf in _nodes(proximity):
            if isinstance(leaf, wq.Phrase) and len(leaf.words) > 1:
                together |= self._phrase_ids(leaf.fieldname, tuple(leaf.words), among)
        if not together:
            return pool[:top]
        lift = pool[0][1]  # the best score: a document with the phrase ranks above all others
        rescored = [(d, score + lift if d in together else score) for d, score in pool]
        rescored.sort(key=lambda ds: -ds[1])  # stable: ties keep their order
        return rescored[:top]

    def _rank(self, main: Any, matched: Any, top: int) -> list[tuple[int, float]]:
        leaves = list(_scoring_leaves(main))
        # Few matches for common words (a phrase, an AND, a filter): score those documents
        # only, not every posting of each word. The sums come out bit for bit the same (the
        # same terms, added in the same order), and so does the ranking.
        only = sorted(matched) if self._few(leaves, len(matched)) else None
        sized: list[tuple[int, dict[int, float]]] = []
        for leaf, boost in leaves:
            if isinstance(leaf, wq.Term | wq.Phrase):
                words = [leaf.text] if isinstance(leaf, wq.Term) else leaf.words
                for word in words:
                    scored = self._score_term(leaf.fieldname, word, boost, only)
                    if scored is not None:
                        sized.append(scored)
            else:  # constant-score parts (wide expansions)
                ids = self.matches(leaf)
                sized.append((len(ids), dict.fromkeys(ids & matched if only else ids, boost)))
        # Add up each document's scores: the largest part as is, the others merged into it.
        sized.sort(key=operator.itemgetter(0), reverse=True)
        parts = [part for _, part in sized]
        zero = itertools.repeat(0.0)
        if only is None and all(part.keys() <= matched for part in parts):
            # A term or an OR: every scored document matched (ties in index order).
            acc: dict[int, float] = dict(parts[0]) if parts else {}
            get = acc.get
            for part in parts[1:]:
                for d, score in part.items():
                    acc[d] = get(d, 0.0) + score
            if acc.keys() == matched:
                return heapq.nlargest(top, acc.items(), key=operator.itemgetter(1))
            parts = [acc]
        # An AND, a phrase, a filter: only the matched documents' sums, at C speed (added in
        # the same order as above, so the same floats), not every posting merged in Python.
        order = sorted(matched)
        scores: Iterator[float] = itertools.repeat(0.0, len(order))
        if parts:
            scores = map(parts[0].get, order, zero)
            for part in parts[1:]:
                scores = map(operator.add, scores, map(part.get, order, zero))
        # (score, -docnum), compared at C speed: ties go to the earlier document.
        keyed = zip(scores, map(operator.neg, order), strict=True)
        return [(-negdoc, score) for score, negdoc in heapq.nlargest(top, keyed)]

    def _few(self, leaves: list[tuple[Any, float]], matched: int) -> bool:
        """Whether ``matched`` documents are few beside the postings the query's words have
        (then scoring only them is cheaper than scoring every posting)."""
        if not matched:
            return False
        most = 0
        for leaf, _ in leaves:
            if isinstance(leaf, wq.Term):
                most = max(most, self._df(leaf.fieldname, leaf.text))
            elif isinstance(leaf, wq.Phrase):
                most = max([most, *(self._df(leaf.fieldname, w) for w in leaf.words)])
        return matched * _FEW < most

    def expand(self, q: Any) -> Any:
        """Replace prefix, wildcard and fuzzy queries on the vocabulary by the stems of the
        words they match; keep vocabulary documents out of queries that could match them."""
        q = _rewrite(q, self._expand_leaf)
        if any(isinstance(n, wq.Not | wq.Every) for n in _nodes(q)):
            q = wq.AndNot(q, wq.Term("id", VOCABULARY_ID))
        return q

    def _stored_vocabulary(self, leaf: Any) -> frozenset[str] | None:
        sidecar = self._sidecar(leaf)
        return None if sidecar is None else sidecar.vocabulary()

    def _names(self) -> Vocabulary:
        if self._people is None:
            leaves = [leaf for leaf, _ in self.reader.leaf_readers()]
            self._people = Vocabulary(leaves, self._word_cache, field="people")
        return self._people

    def _vocabulary(self) -> Vocabulary:
        if self._words is None:
            leaves = [leaf for leaf, _ in self.reader.leaf_readers()]
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


def _score_some(
    post: Postings | FastPostings,
    norms: list[float],
    weight: float,
    offset: int,
    size: int,
    only: list[int],
) -> dict[int, float]:
    """BM25 of one term in one segment for the documents ``only`` (sorted, index-wide
    numbers) that hold it: each found by bisection in the sorted posting list."""
    ids, tfs = post.ids, post.weights
    out: dict[int, float] = {}
    lo = bisect.bisect_left(only, offset)
    hi = bisect.bisect_left(only, offset + size, lo)
    start, end = 0, len(ids)
    for d in only[lo:hi]:
        local = d - offset
        i = bisect.bisect_left(ids, local, start, end)
        if i < end and ids[i] == local:
            tf = tfs[i]
            out[d] = weight * tf / (tf + norms[local])
        start = i
    return out


def _scoring_leaves(q: Any, boost: float = 1.0) -> Iterator[tuple[Any, float]]:
    """The parts of ``q`` that add to a score, with their boosts; nothing under a NOT."""
    if isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from _scoring_leaves(q.a, boost)
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
        yield from _scoring_leaves(child, boost * getattr(q, "boost", 1.0))


def _nodes(q: Any) -> Iterator[Any]:
    yield q
    for child in q.children():
        yield from _nodes(child)


def _rewrite(q: Any, fn: Any) -> Any:
    """``q`` with every leaf replaced by ``fn(leaf)``."""
    if q.is_leaf():
        return fn(q)
    return q.apply(lambda child: _rewrite(child, fn))
