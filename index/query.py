"""A search request (:class:`SearchQuery`) turned into Whoosh queries, and its results.

The query language is Whoosh's: words (all must match), AND, OR, NOT (or -word), "phrases",
``field:value``, wildcards (``detenid*``, ``gonz?lez``), ``term~`` fuzzy (edit distance 1;
``term~2`` for 2). Field names a user may write are those of ``schema.QUERY_FIELDS``.
Whoosh's parser never fails: it quietly drops what it cannot read. A search that silently
drops part of a question is worse than an error, so :func:`parse_text` checks the text first
and raises :class:`~constancia.errors.UsageError` with a plain sentence.

Routing, done on the parser's syntax tree before queries are made:

- unfielded words search ``DEFAULT_FIELDS`` (text in all three analysis groups, titles
  boosted, the names' sound keys); a word that is a Spanish or English stop word is dropped,
  since it would otherwise demand "de" of every document in a field that keeps stop words;
- unfielded wildcards, prefixes and fuzzy terms search ``words`` (folded surface forms: a
  stem is no base for a prefix);
- a field name stands for its per-language copies.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import FuzzyTermPlugin, QueryParser, syntax
from whoosh.qparser.plugins import (
    FieldsPlugin,
    PhrasePlugin,
    Plugin,
    PlusMinusPlugin,
    PrefixPlugin,
    WildcardPlugin,
)

from artefacts.edtf import EdtfError, date_interval
from constancia.errors import UsageError
from index.analyzers import english_analyzer, fold, names_analyzer, spanish_analyzer
from index.schema import DEFAULT_FIELDS, QUERY_FIELDS
from index.sound_key import sound_key

__all__ = [
    "Hit",
    "SearchQuery",
    "SearchResults",
    "date_bounds",
    "filter_queries",
    "parse_text",
    "person_query",
]

MAX_FUZZY_DISTANCE = 2
MIN_PREFIX = 2  # letters before a wildcard: "d*" would expand to most of the vocabulary


@dataclass(frozen=True)
class SearchQuery:
    """A search: query text (``*`` for everything) and filters; all filters must hold."""

    text: str = "*"
    kind: str | None = None
    lang: str | None = None
    place: str | None = None
    person: str | None = None
    tag: str | None = None
    sensitivity: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    limit: int = 10
    page: int = 1
    facets: bool = False


@dataclass(frozen=True)
class Hit:
    """One result. ``snippet`` marks matched words as ``[[word]]`` (plain text, no ANSI)."""

    id: str
    title: str
    kind: str
    date: str | None
    score: float
    snippet: str


@dataclass(frozen=True)
class SearchResults:
    """``total`` counts every match; ``hits`` is the requested page; ``facets`` maps
    "kind", "language", "place" and "decade" to value → count (when asked for)."""

    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] | None
    took_ms: float


# -- checking the text before Whoosh forgives it ------------------------------------------

_FIELD = re.compile(r"(?<![\w:])(\w+):")
_OPERATOR = re.compile(r"(?:^|(?<=[\s(]))(AND|OR|NOT|ANDNOT|ANDMAYBE)(?=[\s)]|$)")


def _check_syntax(text: str) -> None:
    """Raise UsageError for what Whoosh's parser would silently drop or misread."""
    if text.count('"') % 2:
        raise UsageError(
            "a quotation mark in the query is not closed",
            hint='put phrases between two double quotes: "casa de piedra"',
        )
    outside = re.sub(r'"[^"]*"', "Q", text)  # quoted text is literal: a placeholder
    depth = 0
    for c in outside:
        depth += (c == "(") - (c == ")")
        if depth < 0:
            raise UsageError("the query closes a parenthesis it never opened")
    if depth:
        raise UsageError("a parenthesis in the query is not closed")
    if outside.count("[") != outside.count("]") or outside.count("{") != outside.count("}"):
        raise UsageError("a range in the query is not closed", hint="write field:[a TO b]")
    for m in _FIELD.finditer(outside):
        name = m.group(1).lower()
        after = outside[m.end() :]
        if name in QUERY_FIELDS and (not after or after[0].isspace() or after[0] == ")"):
            raise UsageError(f"'{name}:' in the query has no value after the colon")
        if name not in QUERY_FIELDS:
            close = difflib.get_close_matches(name.lower(), QUERY_FIELDS, n=1, cutoff=0.75)
            if close:
                raise UsageError(
                    f"the query names a field '{name}', which does not exist",
                    hint=f"did you mean '{close[0]}:'? Fields: {', '.join(sorted(QUERY_FIELDS))}",
                )
    words = [w for w in re.split(r"[\s()]+", outside) if w]
    ops = [w for w in words if _OPERATOR.fullmatch(w)]
    if ops and words and (_OPERATOR.fullmatch(words[-1]) or words[0] in {"AND", "OR"}):
        raise UsageError(
            f"the operator {ops[-1] if _OPERATOR.fullmatch(words[-1]) else words[0]} in the "
            "query lacks a word on one side",
            hint="write  word1 AND word2,  word1 OR word2  or  NOT word",
        )


# -- routing on the syntax tree -------------------------------------------------------------


@functools.cache
def _stop_analyzers() -> tuple[Any, Any]:
    return spanish_analyzer(), english_analyzer()


def _is_stop_word(text: str) -> bool:
    return any(not list(analyzer(text)) for analyzer in _stop_analyzers())


_PHRASE_FIELDS = {n for n in DEFAULT_FIELDS if n != "people_sound"}
_NO_POSITIONS = {"people_sound", "tags", "kind", "lang", "sensitivity", "created", "ingested"}


class _RoutingPlugin(Plugin):  # type: ignore[misc]
    """Maps user field names to index fields and sends unfielded nodes where they belong."""

    def filters(self, parser: Any) -> list[tuple[Any, int]]:
        # 99: before Whoosh applies field names (100); 105: after, before queries are made.
        return [(self._unknown_fields, 99), (self._route, 105)]

    def _unknown_fields(self, parser: Any, group: Any) -> Any:
        """A name before a colon that is no field is text ("10:30"), as Whoosh would do."""
        out = group.empty_copy()
        pending = None
        for node in group:
            if isinstance(node, syntax.FieldnameNode):
                if node.fieldname.lower() in QUERY_FIELDS:
                    node.fieldname = node.fieldname.lower()  # "Title:" is "title:"
                else:
                    pending = node
                    continue
            if isinstance(node, syntax.GroupNode):
                node = self._unknown_fields(parser, node)
            if pending is not None:
                if node.has_text:
                    node.text = pending.original + node.text
                else:
                    out.append(syntax.to_word(pending))
                pending = None
            out.append(node)
        if pending is not None:
            out.append(syntax.to_word(pending))
        return out

    def _route(self, parser: Any, group: Any) -> Any:
        for i, node in enumerate(group):
            if isinstance(node, syntax.GroupNode):
                group[i] = self._route(parser, node)
            elif node.has_fieldname:
                group[i] = self._route_node(node)
        return group

    def _route_node(self, node: Any) -> Any:
        name = node.fieldname
        phrase = isinstance(node, PhrasePlugin.PhraseNode)
        if isinstance(node, PrefixPlugin.PrefixNode | WildcardPlugin.WildcardNode):
            literal = re.sub(r"[*?]", "", node.text)
            if len(literal) < MIN_PREFIX:
                raise UsageError(
                    f"'{node.text}' is too broad a wildcard",
                    hint=f"give at least {MIN_PREFIX} letters besides * and ?",
                )
            node.text = fold(node.text)
        if isinstance(node, FuzzyTermPlugin.FuzzyTermNode):
            node.maxdist = min(node.maxdist, MAX_FUZZY_DISTANCE)
            node.prefixlength = max(node.prefixlength, 1)
        if name is None:
            if isinstance(
                node,
                PrefixPlugin.PrefixNode
                | WildcardPlugin.WildcardNode
                | FuzzyTermPlugin.FuzzyTermNode,
            ):
                node.set_fieldname("words", override=True)
                return node
            if isinstance(node, syntax.WordNode) and _is_stop_word(node.text):
                # Routed to the Spanish text, whose analyzer drops it: the word vanishes.
                node.set_fieldname("body_es", override=True)
                return node
            fields = {f: b for f, b in DEFAULT_FIELDS.items() if not phrase or f in _PHRASE_FIELDS}
        elif name in QUERY_FIELDS:
            fields = {f: 1.0 for f in QUERY_FIELDS[name] if not phrase or f not in _NO_POSITIONS}
        else:
            return node
        copies = []
        for field, boost in fields.items():
            new = copy.copy(node)
            new.set_fieldname(field, override=True)
            if boost != 1.0:
                new.set_boost(node.boost * boost)
            copies.append(new)
        return copies[0] if len(copies) == 1 else syntax.OrGroup(copies)


def make_parser(schema: Schema) -> QueryParser:
    """A parser for the index's schema (reusable; parsing does not change it)."""
    parser = QueryParser("body_es", schema)
    parser.replace_plugin(FieldsPlugin(remove_unknown=False))
    parser.add_plugin(FuzzyTermPlugin())
    parser.add_plugin(PlusMinusPlugin())  # -word excludes, +word requires
    parser.add_plugin(_RoutingPlugin())
    return parser


def _errors(q: Any) -> list[str]:
    found = [str(n.error) for n in q.leaves() if getattr(n, "error", None)]
    if getattr(q, "error", None):
        found.append(str(q.error))
    return found


def parse_text(text: str, parser: QueryParser) -> Any:
    """The Whoosh query for ``text``; ``*`` or blank text matches every document."""
    stripped = text.strip()
    if stripped in ("", "*", "*:*"):
        return wq.Every()
    _check_syntax(stripped)
    try:
        q = parser.parse(stripped)
    except UsageError:
        raise
    except Exception:  # Whoosh's parser fails on some odd inputs ("NOT NOT x")
        raise UsageError(
            "the query cannot be read",
            hint='use words, "phrases", field:value, AND, OR, NOT, * and ~',
        ) from None
    errors = _errors(q)
    if errors:
        raise UsageError(f"the query cannot be read: {errors[0]}")
    return q


# -- filters --------------------------------------------------------------------------------


@functools.cache
def _names() -> Any:
    return names_analyzer()


def _words(text: str) -> list[str]:
    return [t.text for t in _names()(text)]


def person_query(name: str) -> Any:
    """Every word of ``name`` must match a person's name: folded exactly, within edit
    distance 1 (words of 4 letters or more), or by Spanish sound key."""
    parts = []
    for word in _words(name):
        options: list[Any] = [wq.Term("people", word)]
        if len(word) >= 4:
            options.append(wq.FuzzyTerm("people", word, maxdist=1, prefixlength=1))
        key = sound_key(word)
        if key:
            options.append(wq.Term("people_sound", key))
        parts.append(wq.Or(options))
    if not parts:
        raise UsageError(f"the person filter {name!r} has no letters to match")
    return parts[0] if len(parts) == 1 else wq.And(parts)


def _place_query(place: str) -> Any:
    words = _words(place)
    if not words:
        raise UsageError(f"the place filter {place!r} has no letters to match")
    return wq.Term("places", words[0]) if len(words) == 1 else wq.Phrase("places", words)


def filter_queries(q: SearchQuery) -> list[tuple[str, Any]]:
    """(cache key, Whoosh query) for each filter given, except dates (see date_bounds)."""
    out: list[tuple[str, Any]] = []
    if q.kind:
        out.append((f"kind={q.kind}", wq.Term("kind", q.kind.strip().lower())))
    if q.lang:
        out.append((f"lang={q.lang}", wq.Term("lang", q.lang.strip().lower())))
    if q.sensitivity:
        value = q.sensitivity.strip().lower()
        out.append((f"sensitivity={value}", wq.Term("sensitivity", value)))
    if q.tag:
        out.append((f"tag={q.tag}", wq.Term("tags", fold(q.tag.strip()))))
    if q.place:
        out.append((f"place={q.place}", _place_query(q.place)))
    if q.person:
        out.append((f"person={q.person}", person_query(q.person)))
    return out


def _day_number(day: str) -> int:
    return int(day.replace("-", ""))


def date_bounds(date_from: str | None, date_to: str | None) -> tuple[int, int] | None:
    """(first, last) day as yyyymmdd for the from/to filters, None without them.

    A partial date stands for all its days: from 1974 means from 1974-01-01, to 1973-08
    means up to 1973-08-31. Raises UsageError on a date that is not EDTF level 0.
    """
    if not date_from and not date_to:
        return None
    first, last = 0, 99_999_999
    try:
        if date_from:
            first = _day_number(date_interval(date_from.strip())[0])
        if date_to:
            last = _day_number(date_interval(date_to.strip())[1])
    except EdtfError as e:
        raise UsageError(f"the date filter: {e}", hint=e.hint) from None
    if first > last:
        raise UsageError(
            f"the date range is empty: {date_from} is after {date_to}",
            hint="put the earlier date after 'from'",
        )
    return first, last
