"""Running a SearchQuery on one Whoosh searcher: filters, ranking, snippets and facets.

A :class:`Searching` lives as long as its searcher (one per process, reopened after a
commit) and caches what does not change between queries: the document sets of filters,
the event dates, the facet values. Matching and ranking are index.matching's.
"""

from __future__ import annotations

import re
import sys
import time
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from constancia.errors import UsageError
from index.matching import DocSet, Matcher
from index.query import (
    Hit,
    SearchQuery,
    SearchResults,
    date_bounds,
    filter_queries,
    make_parser,
    parse_text,
)
from index.ranking import Ranker
from index.schema import VOCABULARY_ID
from index.snippets import query_terms, snippet

__all__ = ["Searching"]

_FILTER_CACHE = 64
_PLAIN = re.compile(r"[\w\s.,;'-]+")
MAX_LIMIT = 1000
_FACETS = {"kind": "kind", "lang": "language", "place": "place", "decade": "decade"}
TOP_PLACES = 20


def _numbers(leaf: Any, field: str) -> list[int]:
    """A numeric column of one segment, whole. Read as one block of bytes where it has the
    layout of Whoosh 2.7's NumericColumn (values one after another, big-endian), else value
    by value (which costs 4 µs each: 0.4 s for two columns of 100,000)."""
    doccount = leaf.doc_count_all()
    if not leaf.has_column(field):
        return [0] * doccount
    reader = leaf.column_reader(field, translate=False)
    try:
        typecode, size, count = reader._typecode, reader._fixedlen, reader._count
        data = reader._dbfile.get(reader._basepos, count * size)
        values = array(typecode, data)
        if values.itemsize != size:
            raise TypeError("another item size")
    except (AttributeError, TypeError, ValueError):
        return list(reader)
    if sys.byteorder == "little":
        values.byteswap()
    return values.tolist() + [reader._default] * (doccount - count)


class Searching:
    """Searches on one searcher, with its caches."""

    def __init__(
        self,
        searcher: Any,
        folder: Path | None = None,
        word_cache: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.parser = make_parser(searcher.schema)
        self.matcher = Matcher(searcher, folder, word_cache)
        self.ranker = Ranker(self.matcher)
        self._filters: OrderedDict[str, DocSet] = OrderedDict()
        self._dates: tuple[np.ndarray, np.ndarray] | None = None
        self._facets: dict[str, dict[str, DocSet]] | None = None

    # -- filters ------------------------------------------------------------------------

    def _docset(self, key: str, q: Any) -> DocSet:
        found = self._filters.get(key)
        if found is None:
            found = self.matcher.matches(q)
            self._filters[key] = found
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        else:
            self._filters.move_to_end(key)
        return found

    def _date_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The start and end (yyyymmdd, 0 for undated) of every document's event
        interval, read once per searcher from the date columns."""
        if self._dates is None:
            starts: list[int] = []
            ends: list[int] = []
            for leaf, _offset in self.reader.leaf_readers():  # in docnum order
                starts += _numbers(leaf, "date_start")
                ends += _numbers(leaf, "date_end")
            self._dates = (np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64))
        return self._dates

    def _date_set(self, first: int, last: int) -> DocSet:
        """Documents whose event interval overlaps [first, last] (yyyymmdd)."""
        key = f"date={first}/{last}"
        found = self._filters.get(key)
        if found is None:
            starts, ends = self._date_columns()
            found = (starts != 0) & (starts <= last) & (ends >= first)
            self._filters[key] = found
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        return found

    def _allowed(self, q: SearchQuery) -> DocSet | None:
        sets = [self._docset(key, fq) for key, fq in filter_queries(q)]
        bounds = date_bounds(q.date_from, q.date_to)
        if bounds is not None:
            sets.append(self._date_set(*bounds))
        if not sets:
            return None
        if len(sets) == 1:
            return sets[0]
        allowed = sets[0] & sets[1]
        for s in sets[2:]:
            allowed &= s
        return allowed

    # -- running ------------------------------------------------------------------------

    def run(self, q: SearchQuery) -> SearchResults:
        """The page of results ``q`` asks for; UsageError for a query that cannot be read."""
        t0 = time.perf_counter()
        if not 1 <= q.limit <= MAX_LIMIT:
            raise UsageError(f"the limit must be between 1 and {MAX_LIMIT}, not {q.limit}")
        if q.page < 1:
            raise UsageError(f"the page must be 1 or more, not {q.page}")
        main = self.matcher.expand(parse_text(q.text, self.parser))
        allowed = self._allowed(q)
        matched = self.matcher.matches(main)
        if allowed is not None:
            matched = matched & allowed
        total = int(np.count_nonzero(matched))
        top = q.page * q.limit
        start = (q.page - 1) * q.limit
        ranked: list[tuple[int, float]] = []
        if total and start < total:
            proximity = self._proximity(q.text)
            ranked = self.ranker.rank(main, matched, top, proximity)[start:top]
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

    def _proximity(self, text: str) -> Any:
        """For plain words (no operators, quotes or fields), the same words as a phrase,
        to rank the documents that hold them together first; else None."""
        words = text.split()
        if len(words) < 2 or not _PLAIN.fullmatch(text.strip()):
            return None
        if any(w in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE") for w in words):
            return None
        return self.matcher.expand(parse_text(f'"{" ".join(words)}"', self.parser))

    def close(self) -> None:
        """Close the searcher and the sidecars."""
        self.matcher.close()
        self.searcher.close()

    # -- facets -------------------------------------------------------------------------

    def _facet_sets(self) -> dict[str, dict[str, DocSet]]:
        if self._facets is None:
            facets: dict[str, dict[str, DocSet]] = {k: {} for k in _FACETS}
            for btext in self.reader.lexicon("facet"):
                value = btext.decode("utf-8")
                name, _, label = value.partition("=")
                if name in facets:
                    facets[name][label] = self.matcher.term_ids("facet", btext).copy()
            self._facets = facets
        return self._facets

    def _count_facets(self, matched: DocSet) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name, values in self._facet_sets().items():
            counts = {label: int(np.count_nonzero(ids & matched)) for label, ids in values.items()}
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
