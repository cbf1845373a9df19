"""The fields of the search index, and why each exists.

The schema is pickled into the index by Whoosh, so every class named here must keep its
module and name; a change of fields means a rebuild (the index is a cache).

Text is analyzed per language: Whoosh gives each field one analyzer, so each text field exists
three times, once per analysis group (``es``: Spanish stemming, ``en``: English stemming,
``xx``: folding only, for any other or unknown language). A document fills only the copies
of its own group; a query searches all three, each copy analysing the query its own way.

Indexing speed: Whoosh runs an analyzer as a chain of Python generators over token objects,
about 4 µs a token with the Spanish chain, and pickles each term's positions (~4.5 ms for a
5 KB document). :class:`FastText` gets the same terms by tokenizing with the analyzer's own
regular expression and analysing each *distinct* word once (cached, and many words per
analyzer call), which is exact because every analyzer here works token by token; it stores
positions as packed integers (:class:`ArrayPositions`), decoded at C speed.
"""

from __future__ import annotations

import functools
import itertools
import re
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from whoosh import columns, formats
from whoosh.analysis import Analyzer, IDAnalyzer, LowercaseFilter, RegexTokenizer
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, FieldType, Schema

from index.analyzers import (
    WORD_PATTERN,
    FoldFilter,
    analyzer_for,
    english_analyzer,
    folding_analyzer,
    names_analyzer,
    prefix_analyzer,
    spanish_analyzer,
)
from index.sound_key import sound_analyzer

__all__ = [
    "DEFAULT_FIELDS",
    "GROUPS",
    "POSITION_GAP",
    "QUERY_FIELDS",
    "VOCABULARY_ID",
    "ArrayPositions",
    "FastText",
    "build_schema",
    "group_of",
    "value_list",
    "words_of",
]

#: Analysis groups: a document's text goes into the copies of its group's fields.
GROUPS = ("es", "en", "xx")
#: Positions skipped between the parts of a multi-part value (title, text, each name), so a
#: phrase never matches across two of them.
POSITION_GAP = 100
#: The ID of the vocabulary document of each segment (never a result).
VOCABULARY_ID = "~vocabulary"
#: Values of multi-valued exact fields (tags, facets) are joined with the unit separator.
SEP = "\x1f"

_WORD = re.compile(WORD_PATTERN)
_CACHE_LIMIT = 500_000  # words per analysis cache (~50 MB)
_pack_uint = struct.Struct("!I").pack
_BIG_ENDIAN = sys.byteorder == "big"


class FastText(FieldType):  # type: ignore[misc]
    """A text field indexed like TEXT with ``analyzer``, ~20× faster.

    A value is a string or a sequence of strings (parts, kept POSITION_GAP positions apart).
    ``positions`` False stores only frequencies; ``existence`` stores presence alone (for
    fields that are only matched, never scored: prefix and wildcard queries). Fields whose
    analyzers are equal should share a ``cache`` name: the word → term cache is per name.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        cache: str,
        *,
        positions: bool = True,
        existence: bool = False,
    ) -> None:
        fmt: Any
        if existence:
            fmt = formats.Existence()
        elif positions:
            fmt = ArrayPositions()
        else:
            fmt = formats.Frequency()
        # Always scorable: Whoosh's segment writer stats a file for every posting of a
        # field without stored lengths (a third of the indexing time).
        super().__init__(fmt, analyzer, scorable=True, multitoken_query="default")
        self.positions = positions and not existence
        self.existence = existence
        self.cache = cache

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, FastText)
            and (self.analyzer, self.positions, self.existence, self.cache)
            == (other.analyzer, other.positions, other.existence, other.cache)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.positions, self.existence, self.cache))

    def terms_of(self, words: Iterable[str]) -> dict[str, str | None]:
        """The term the analyzer makes of each word (None: a stop word), from the cache."""
        cache = _TERM_CACHES.setdefault(self.cache, {})
        get = cache.get
        missing = {w for w in words if get(w, "") == ""}
        if missing:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            cache.update(_analyse_words(self.analyzer, missing))
        return cache

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if isinstance(value, Analyzed):
            yield from value.items
            return
        parts: Sequence[str] = (value,) if isinstance(value, str) else value
        yield from self.index_words(words_of(parts))

    def index_words(
        self, words: Sequence[Sequence[str]]
    ) -> Iterator[tuple[bytes, int, float, bytes]]:
        """What :meth:`index` gives for parts whose words (:func:`words_of`) are known."""
        terms = self.terms_of(itertools.chain.from_iterable(words))
        positions: dict[str, list[int]] = {}
        pos = -1
        for i, part in enumerate(words):
            if i:
                pos += POSITION_GAP
            for word in part:
                term = terms[word]
                if term is None:
                    continue
                pos += 1
                found = positions.get(term)
                if found is None:
                    positions[term] = [pos]
                else:
                    found.append(pos)
        if self.existence:
            for term in positions:
                yield term.encode("utf-8"), 1, 1.0, b""
        elif self.positions:
            for term, poslist in positions.items():
                yield term.encode("utf-8"), len(poslist), float(len(poslist)), _encode(poslist)
        else:
            for term, poslist in positions.items():
                n = len(poslist)
                yield term.encode("utf-8"), n, float(n), _pack_uint(n)


def words_of(parts: Iterable[str]) -> list[list[str]]:
    """The words of each part, as every FastText field tokenizes them."""
    return [_WORD.findall(p) for p in parts]


class Analyzed:
    """A value already turned into postings by FastText.index (so that a caller can keep a
    copy of them): FastText.index hands them over unchanged."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[bytes, int, float, bytes]]) -> None:
        self.items = items


_TERM_CACHES: dict[str, dict[str, str | None]] = {}


def _analyse_words(analyzer: Analyzer, words: set[str]) -> dict[str, str | None]:
    """Run ``analyzer`` once over many single words; map each word to its term or None.

    One pass over the joined words costs a tenth of one analyzer call per word. Tokens are
    matched to words by their start offset; a word with no token left is a stop word.
    """
    ordered = list(words)
    starts: dict[int, str] = {}
    offset = 0
    for w in ordered:
        starts[offset] = w
        offset += len(w) + 1
    found: dict[str, str | None] = dict.fromkeys(ordered)
    for t in analyzer(" ".join(ordered), chars=True, removestops=False):
        word = starts.get(t.startchar)
        if word is not None and not t.stopped:
            found[word] = t.text
    return found


class ArrayPositions(formats.Positions):  # type: ignore[misc]
    """Positions as little-endian 32-bit integers: decoded by ``array`` at C speed, where
    Whoosh's own Positions format unpickles a list of deltas per posting."""

    def encode(self, poslist: list[int]) -> bytes:
        return _encode(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return list(_decode(valuestring))

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4

    def decode_weight(self, valuestring: bytes) -> float:
        return float(self.decode_frequency(valuestring) * self.field_boost)

    def combine(self, vs: Iterable[bytes]) -> bytes:
        return _encode(sorted({p for v in vs for p in _decode(v)}))


def _encode(poslist: list[int]) -> bytes:
    a = array("I", poslist)
    if _BIG_ENDIAN:
        a.byteswap()
    return a.tobytes()


def _decode(value: bytes) -> array[int]:
    a = array("I", value)
    if _BIG_ENDIAN:
        a.byteswap()
    return a


@functools.lru_cache(maxsize=256)
def group_of(language: str | None) -> str:
    """The analysis group of a language tag: "es", "en" or "xx" (folding only)."""
    analyzer = analyzer_for(language)
    if analyzer == spanish_analyzer():
        return "es"
    if analyzer == english_analyzer():
        return "en"
    return "xx"


def _group_analyzer(group: str) -> Analyzer:
    return {"es": spanish_analyzer, "en": english_analyzer}.get(group, folding_analyzer)()


def _exact_values(fold: bool) -> Analyzer:
    """Whole values joined by SEP, each one term (folded and lowercased if ``fold``)."""
    tokenizer = RegexTokenizer(r"[^\x1f]+")
    return tokenizer | LowercaseFilter() | FoldFilter() if fold else tokenizer


def value_list(values: Sequence[str]) -> str:
    """Values of a multi-valued exact field (tags, facet) as one string for the writer."""
    return SEP.join(v.replace(SEP, " ") for v in values)


def build_schema() -> Schema:
    """The schema of a new index (see the module docstring for the per-language copies)."""
    fields: dict[str, Any] = {
        # The artefact ID: shown, used to replace or delete a document, and (as a column)
        # listed quickly by `index check`.
        "id": ID(stored=True, unique=True, sortable=True),
        # The SHA-256 of the original as indexed: `index check` compares it with the archive.
        "sha256": COLUMN(columns.VarBytesColumn()),
        # What a hit shows without opening the archive: (title, kind, date, group).
        "shown": STORED(),
        # The text, zlib-compressed, to cut a snippet around the first match.
        "text_z": STORED(),
        # Folded, unstemmed words: the vocabulary, for prefix, wildcard and fuzzy queries (a
        # prefix of a surface form, "detenid*", does not match a stem). Only one document
        # per segment fills it (ID VOCABULARY_ID, with every word of the segment's
        # documents); a query expands against its terms, then searches the stems of the
        # words found. Indexing every document's words too would double the postings.
        "words": FastText(prefix_analyzer(), "fold", existence=True),
        # Names of people, folded ("González" → "gonzalez"): `people:` queries, and fuzzy
        # (edit distance) matching for --person.
        "people": FastText(names_analyzer(), "fold"),
        # Spanish sound keys of the names: "Gonzales", "Ximénez", "Balenzuela" find
        # "González", "Jiménez", "Valenzuela". Unfielded queries search it too.
        "people_sound": FastText(sound_analyzer(), "sound", positions=False),
        # Places, folded words with positions: --place "villa quintral" as a phrase.
        "places": FastText(folding_analyzer(), "fold"),
        # Tags as whole folded values: --tag and `tags:` match a tag exactly.
        "tags": KEYWORD(analyzer=_exact_values(fold=True)),
        # Filters on controlled values (lowercase).
        "kind": ID(analyzer=IDAnalyzer(lowercase=True)),
        "sensitivity": ID(analyzer=IDAnalyzer(lowercase=True)),
        # The language tag and its primary subtag ("es-cl", "es"); "und" when unknown.
        "lang": KEYWORD(lowercase=True),
        # Where the artefact came from, searchable with `source:`.
        "source": TEXT(analyzer=folding_analyzer()),
        # When the artefact was made and ingested, as written: `created:1975*`.
        "created": ID(),
        "ingested": ID(),
        # The event interval as yyyymmdd integers (0: no date), read into arrays per searcher
        # for date overlap filters: cheaper than numeric range queries over 100k documents.
        "date_start": COLUMN(columns.NumericColumn("i", default=0)),
        "date_end": COLUMN(columns.NumericColumn("i", default=0)),
        # Facet values ("kind=testimony", "lang=es", "decade=1970", "place=Villa Quintral"):
        # one small field whose posting lists give every count.
        "facet": KEYWORD(analyzer=_exact_values(fold=False)),
    }
    for group in GROUPS:
        analyzer = _group_analyzer(group)
        # The title alone: `title:` queries, and a boost for title matches.
        fields[f"title_{group}"] = FastText(analyzer, group)
        # The description alone: `description:` queries.
        fields[f"description_{group}"] = FastText(analyzer, group)
        # Everything written in and about the artefact (title, description, text, names,
        # places, tags): the default field of a query, with positions for phrases.
        fields[f"body_{group}"] = FastText(analyzer, group)
    for field in fields.values():
        if field.indexed:
            # Stored lengths for every indexed field: without them Whoosh's segment writer
            # stats a file for each posting.
            field.scorable = True
    return Schema(**fields)


#: Unfielded query words search these, each with its boost. A name that sounds like the
#: query ("Gonzales" → González) outranks a text word that only shares its stem (Gonzalo).
DEFAULT_FIELDS: dict[str, float] = {
    **{f"body_{g}": 1.0 for g in GROUPS},
    **{f"title_{g}": 2.0 for g in GROUPS},
    "people_sound": 3.0,
}

#: Names a user may write before a colon, and the fields each stands for.
QUERY_FIELDS: dict[str, tuple[str, ...]] = {
    "title": tuple(f"title_{g}" for g in GROUPS),
    "description": tuple(f"description_{g}" for g in GROUPS),
    "text": tuple(f"body_{g}" for g in GROUPS),
    "body": tuple(f"body_{g}" for g in GROUPS),
    "people": ("people", "people_sound"),
    "person": ("people", "people_sound"),
    "places": ("places",),
    "place": ("places",),
    "tags": ("tags",),
    "tag": ("tags",),
    "kind": ("kind",),
    "lang": ("lang",),
    "language": ("lang",),
    "sensitivity": ("sensitivity",),
    "source": ("source",),
    "created": ("created",),
    "ingested": ("ingested",),
    "id": ("id",),
}
