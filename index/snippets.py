"""Snippets: a stretch of a document's text around its first matched words, marked [[so]]."""

from __future__ import annotations

import itertools
import re
import zlib
from typing import Any

from whoosh import query as wq

from index.analyzers import WORD_PATTERN, fold
from index.sound_key import sound_key

__all__ = ["SNIPPET_CHARS", "query_terms", "snippet"]

SNIPPET_CHARS = 220
_TEXT_FIELDS = ("title", "description", "body")
_WORD = re.compile(WORD_PATTERN)
_CHUNK = 200


def query_terms(q: Any, reader: Any) -> dict[str, set[str]]:
    """Field → terms of the query (wildcards and fuzzy terms expanded). Plain terms are
    taken as they are: a wide prefix is already a thousand of them, and looking each up in
    every segment cost more than the search (a term no document holds marks nothing)."""
    terms: dict[str, set[str]] = {}
    for leaf in q.leaves():
        if isinstance(leaf, wq.Term):
            pairs: Any = [(leaf.fieldname, leaf.text)]
        elif isinstance(leaf, wq.Phrase):
            pairs = [(leaf.fieldname, word) for word in leaf.words]
        else:
            pairs = leaf.existing_terms(reader, phrases=True, expand=True)
        for field, text in pairs:
            value = text.decode("utf-8") if isinstance(text, bytes) else text
            terms.setdefault(field, set()).add(value)
    return terms


def snippet(stored: dict[str, Any], group: str, terms: dict[str, set[str]], schema: Any) -> str:
    """About SNIPPET_CHARS of the stored text from just before its first match, each matched
    word marked ``[[word]]``; the start of the text when no word of it matched."""
    blob = stored.get("text_z")
    text = zlib.decompress(blob).decode("utf-8") if blob else ""
    wanted: set[str] = set()
    for name in _TEXT_FIELDS:
        wanted |= terms.get(f"{name}_{group}", set())
    folded_wanted = terms.get("words", set()) | terms.get("people", set())
    sounds = terms.get("people_sound", set())
    field = schema[f"body_{group}"]
    heads = {t[:2] for t in wanted} if all(len(t) >= 2 for t in wanted) else set()
    marks: list[tuple[int, int]] = []
    words = _WORD.finditer(text)
    # Analyse a chunk of words at a time and stop once the window is full: analysing all
    # of a long text for ten hits costs more than the search.
    while chunk := list(itertools.islice(words, _CHUNK)):
        # Stemming is slow (Snowball in Python): only words that begin as a wanted stem does
        # can give it (stemmers remove endings; English "y" → "i" changes only the last).
        term_of = field.terms_of(
            m.group(0) for m in chunk if not heads or fold(m.group(0)[:3])[:2] in heads
        )
        for m in chunk:
            word = m.group(0)
            term = term_of.get(word)
            if (
                (term is not None and term in wanted)
                or (folded_wanted and fold(word) in folded_wanted)
                or (sounds and word[:1].isupper() and sound_key(word) in sounds)
            ):
                if marks and m.start() - marks[0][0] > SNIPPET_CHARS:
                    break
                marks.append(m.span())
        else:
            continue
        break
    if not marks:
        plain = " ".join(text[: SNIPPET_CHARS * 2].split())
        return plain[:SNIPPET_CHARS] + ("…" if len(plain) > SNIPPET_CHARS else "")
    begin = max(0, marks[0][0] - 60)
    begin = text.rfind(" ", 0, begin) + 1 if begin else 0
    end = min(len(text), begin + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > marks[-1][1] else max(end, marks[-1][1])
    out = []
    pos = begin
    for s, e in marks:
        if e > end:
            break
        out.append(text[pos:s])
        out.append(f"[[{text[s:e]}]]")
        pos = e
    out.append(text[pos:end])
    snippet = " ".join("".join(out).split())
    return ("…" if begin else "") + snippet + ("…" if end < len(text) else "")
