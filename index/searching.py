"""Running a SearchQuery on one Whoosh searcher: filters, ranking, snippets and facets.

A :class:`Searching` lives as long as its searcher (one per process, reopened after a
commit) and caches what does not change between queries: the document sets of filters,
the event dates, the facet values.
"""

from __future__ import annotations

import collections
import heapq
import math
import operator
import time
from array import array
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
from index.query import (
    Hit,
    SearchQuery,
    SearchResults,
    date_bounds,
    filter_queries,
    make_parser,
    parse_text,
)
from index.schema import GROUPS, VOCABULARY_ID
from index.snippets import query_terms, snippet

__all__ = ["Searching"]

# BM25, with Whoosh's defaults.
B = 0.75
K1 = 1.2
_FILTER_CACHE = 64
_POSTINGS_CACHE = 1_500_000  # postings kept per searcher (~100 MB)
_TERM_CACHE_IDS = 1_500_000  # document numbers kept in the term cache (~60 MB)
MAX_EXPANSION = 2000
_SCORED_EXPANSION = 24
MAX_LIMIT = 1000
_FACETS = {"kind": "kind", "lang": "language", "place": "place", "decade": "decade"}
TOP_PLACES = 20


class Searching:
    """Searches on one searcher, with its caches."""

    def __init__(
        self,
        searcher: Any,
        folder: Path | None = None,
        word_cache: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.searcher = searcher
        self._word_cache = {} if word_cache is None else word_cache
        self.folder = folder
        self._sidecars: dict[str, SidecarReader | None] = {}
        self._sidecar_fields = frozenset(sidecar_fields(searcher.schema))
        self.reader = searcher.reader()
        self.parser = make_parser(searcher.schema)
        self._filters: OrderedDict[str, frozenset[int]] = OrderedDict()
        self._dates: tuple[array[int], array[int]] | None = None
        self._facets: dict[str, dict[str, frozenset[int]]] | None = None
        self._terms: OrderedDict[tuple[str, Any], frozenset[int]] = OrderedDict()
        self._postings: OrderedDict[tuple[str, str, Any], Postings | FastPostings] = OrderedDict()
        self._postings_held = 0
        self._term_ids_held = 0
        self._all: frozenset[int] | None = None
        self._norm_cache: dict[tuple[str, str], list[float]] = {}
        self._words: Vocabulary | None = None

    # -- filters ------------------------------------------------------------------------

    def _docset(self, key: str, q: Any) -> frozenset[int]:
        found = self._filters.get(key)
        if found is None:
            found = frozenset(self.matches(q))
            self._filters[key] = found
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        else:
            self._filters.move_to_end(key)
        return found

    def _date_arrays(self) -> tuple[array[int], array[int]]:
        if self._dates is None:
            starts: array[int] = array("i")
            ends: array[int] = array("i")
            for name, out in (("date_start", starts), ("date_end", ends)):
                out.extend(self.reader.column_reader(name))
            self._dates = (starts, ends)
        return self._dates

    def _date_set(self, first: int, last: int) -> frozenset[int]:
        key = f"date={first}/{last}"
        found = self._filters.get(key)
        if found is None:
            starts, ends = self._date_arrays()
            # Overlap of [start, end] with [first, last]; 0 means no date, never matched.
            found = frozenset(
                d
                for d, (s, e) in enumerate(zip(starts, ends, strict=True))
                if s and s <= last and e >= first
            )
            self._filters[key] = found
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        return found

    def _allowed(self, q: SearchQuery) -> frozenset[int] | None:
        sets = [self._docset(key, fq) for key, fq in filter_queries(q)]
        bounds = date_bounds(q.date_from, q.date_to)
        if bounds is not None:
            sets.append(self._date_set(*bounds))
        if not sets:
            return None
        sets.sort(key=len)
        allowed = sets[0]
        for s in sets[1:]:
            allowed = allowed & s
        return allowed

    # -- running ------------------------------------------------------------------------

    def run(self, q: SearchQuery) -> SearchResults:
        t0 = time.perf_counter()
        if not 1 <= q.limit <= MAX_LIMIT:
            raise UsageError(f"the limit must be between 1 and {MAX_LIMIT}, not {q.limit}")
        if q.page < 1:
            raise UsageError(f"the page must be 1 or more, not {q.page}")
        main = self._expand(parse_text(q.text, self.parser))
        allowed = self._allowed(q)
        matched = self.matches(main)
        if allowed is not None:
            matched = matched & allowed
        total = len(matched)
        top = q.page * q.limit
        start = (q.page - 1) * q.limit
        ranked: list[tuple[int, float]] = []
        if total and start < total:
            ranked = self._rank(main, matched, top)[start:top]
        hits = []
        terms = query_terms(main, self.reader) if ranked else {}
        for docnum, score in ranked:
            stored = self.searcher.stored_fields(docnum)
            title, kind, date, group = stored["shown"]
            shown = snippet(stored, group, terms, self.searcher.schema)
            hits.append(Hit(stored["id"], title, kind, date, score, shown))
        facets = self._count_facets(matched) if q.facets else None
        took = (time.perf_counter() - t0) * 1000
        return SearchResults(total=total, hits=hits, facets=facets, took_ms=took)

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

    def _positions(self, leaf: Any, field: str, word: str, wanted: set[int]) -> dict[int, Any]:
        """Local document number → positions of ``word``, for the ``wanted`` documents."""
        post = self._read(leaf, field, word)
        if isinstance(post, FastPostings):
            return post.positions_of(wanted)
        post = read_postings(leaf, field, word, values=True)
        assert post.values is not None
        decode = self.searcher.schema[field].format.decode_positions
        return {d: decode(v) for d, v in zip(post.ids, post.values, strict=True) if d in wanted}

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

    def _leaves_with(self, field: str, text: Any) -> Iterator[tuple[Any, int]]:
        for leaf, offset in self.reader.leaf_readers():
            if (field, text) in leaf:
                yield leaf, offset

    def _term_ids(self, field: str, text: Any) -> frozenset[int]:
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

    def _live(self) -> frozenset[int]:
        if self._all is None:
            self._all = frozenset(self.reader.all_doc_ids()) - self._term_ids("id", VOCABULARY_ID)
        return self._all

    def matches(self, q: Any) -> frozenset[int] | set[int]:
        """The set of documents ``q`` matches (scores aside)."""
        if isinstance(q, wq.Term):
            text = q.text
            return self._term_ids(q.fieldname, text)
        if isinstance(q, wq.And | wq.Require):
            parts = sorted((self.matches(c) for c in q.children()), key=len)
            if not parts:
                return frozenset()
            out = set(parts[0])
            for p in parts[1:]:
                out &= p
            return out
        if isinstance(q, wq.Or | wq.DisjunctionMax):
            out = set()
            for c in q.children():
                out |= self.matches(c)
            return out
        if isinstance(q, wq.AndNot):
            return set(self.matches(q.a)) - self.matches(q.b)
        if isinstance(q, wq.AndMaybe):
            return self.matches(q.a)
        if isinstance(q, wq.Not):
            return self._live() - self.matches(q.query)
        if isinstance(q, wq.Every) and not q.fieldname:
            return self._live()
        if isinstance(q, wq.ConstantScoreQuery | wq.WeightingQuery):
            return self.matches(q.child)
        if isinstance(q, wq.MultiTerm) and not isinstance(q, wq.Every):
            out = set()
            for field, text in q.expanded_terms(self.reader):
                out |= self._term_ids(field, text)
            return out
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return frozenset()
        if isinstance(q, wq.Phrase) and q.slop == 1 and len(q.words) > 1:
            return self._phrase_ids(q.fieldname, tuple(q.words))
        # Phrases and anything else: Whoosh's own matcher, on the candidates only.
        return set(self.searcher.docs_for_query(q))

    def _phrase_ids(self, field: str, words: tuple[str, ...]) -> frozenset[int]:
        """Documents with ``words`` at consecutive positions (cached per searcher)."""
        key = f"phrase:{field}:{' '.join(words)}"
        found = self._filters.get(key)
        if found is not None:
            return found
        candidates = set(self._term_ids(field, words[0]))
        for w in words[1:]:
            candidates &= self._term_ids(field, w)
        hits: set[int] = set()
        for leaf, offset in self.reader.leaf_readers():
            size = leaf.doc_count_all()
            local = {d - offset for d in candidates if offset <= d < offset + size}
            starts: set[tuple[int, int]] = set()
            for i, word in enumerate(words):
                if not local:
                    break
                here = {
                    (d, p - i)
                    for d, positions in self._positions(leaf, field, word, local).items()
                    for p in positions
                }
                starts = here if i == 0 else starts & here
                local = {d for d, _ in starts}
            hits.update(d + offset for d in local)
        found = frozenset(hits)
        self._filters[key] = found
        if len(self._filters) > _FILTER_CACHE:
            self._filters.popitem(last=False)
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
        self, field: str, text: Any, boost: float, matched: Any, acc: dict[int, float]
    ) -> None:
        reader = self.reader
        df = reader.doc_frequency(field, text)
        if not df:
            return
        n = max(len(self._live()), 1)  # documents, without the vocabulary ones
        avgdl = max(reader.field_length(field) / n, 1.0)
        weight = boost * (K1 + 1) * math.log(1 + (n - df + 0.5) / (df + 0.5))
        for leaf, offset in self._leaves_with(field, text):
            norms = self._norms(leaf, field, avgdl)
            post = self._segment_postings(leaf, field, text)
            # BM25 at C speed: map() over builtins runs no Python bytecode per posting.
            tf = post.weights
            denominators = map(operator.add, tf, map(norms.__getitem__, post.ids))
            scores = map(operator.truediv, map(weight.__mul__, tf), denominators)
            ids = map(offset.__add__, post.ids) if offset else post.ids
            if not acc:
                acc.update(zip(ids, scores, strict=True))
            else:
                get = acc.get
                for g, sc in zip(ids, scores, strict=True):
                    acc[g] = get(g, 0.0) + sc

    def _rank(self, main: Any, matched: Any, top: int) -> list[tuple[int, float]]:
        """The ``top`` best of ``matched`` for ``main``, best first (ties: index order)."""
        acc: dict[int, float] = {}
        for leaf, boost in _scoring_leaves(main):
            if isinstance(leaf, wq.Term):
                self._score_term(leaf.fieldname, leaf.text, boost, matched, acc)
            elif isinstance(leaf, wq.Phrase):
                for word in leaf.words:
                    self._score_term(leaf.fieldname, word, boost, matched, acc)
            else:  # constant-score parts (wide expansions)
                for d in self.matches(leaf) & matched:
                    acc[d] = acc.get(d, 0.0) + boost
        if acc.keys() == matched:  # a term or an OR: every scored document matched
            return heapq.nlargest(top, acc.items(), key=operator.itemgetter(1))
        scores = collections.defaultdict(float, acc)
        order = sorted(matched)  # ties in index order, whatever the set's order
        return [(d, scores[d]) for d in heapq.nlargest(top, order, key=scores.__getitem__)]

    def _expand(self, q: Any) -> Any:
        """Replace prefix, wildcard and fuzzy queries on the vocabulary by the stems of the
        words they match; keep vocabulary documents out of queries that could match them."""
        q = _rewrite(q, self._expand_leaf)
        if any(isinstance(n, wq.Not | wq.Every) for n in _nodes(q)):
            q = wq.AndNot(q, wq.Term("id", VOCABULARY_ID))
        return q

    def _vocabulary(self) -> Vocabulary:
        if self._words is None:
            leaves = [leaf for leaf, _ in self.reader.leaf_readers()]
            self._words = Vocabulary(leaves, self._word_cache)
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
        """Close the searcher and the sidecars."""
        for sidecar in self._sidecars.values():
            if sidecar is not None:
                sidecar.close()
        self._sidecars.clear()
        self.searcher.close()

    # -- facets -------------------------------------------------------------------------

    def _facet_sets(self) -> dict[str, dict[str, frozenset[int]]]:
        if self._facets is None:
            facets: dict[str, dict[str, frozenset[int]]] = {k: {} for k in _FACETS}
            for btext in self.reader.lexicon("facet"):
                value = btext.decode("utf-8")
                name, _, label = value.partition("=")
                if name in facets:
                    ids = self._term_ids("facet", btext)
                    facets[name][label] = ids
            self._facets = facets
        return self._facets

    def _count_facets(self, matched: Any) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name, values in self._facet_sets().items():
            counts = {
                label: len(ids & matched) if len(ids) < len(matched) else len(matched & ids)
                for label, ids in values.items()
            }
            counts = {k: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}
            if name == "place":
                counts = dict(list(counts.items())[:TOP_PLACES])
            out[_FACETS[name]] = counts
        return out

    # -- index check --------------------------------------------------------------------

    def digests(self) -> Iterator[tuple[str, str]]:
        """(ID, SHA-256) of every indexed document."""
        for reader, _ in self.reader.leaf_readers():
            ids = reader.column_reader("id")
            shas = reader.column_reader("sha256")
            for docnum in reader.all_doc_ids():
                ident = ids[docnum]
                ident = ident.decode("utf-8") if isinstance(ident, bytes) else str(ident)
                if ident != VOCABULARY_ID:
                    yield ident, shas[docnum].decode("ascii", "replace")


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
