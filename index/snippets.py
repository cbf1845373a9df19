"""Snippets: a stretch of a document's text around its first matched words, marked [[so]]."""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable
from typing import Any

from whoosh import query as wq

from index.analyzers import MARKS, WORD_PATTERN, fold
from index.sound_key import sound_key

__all__ = ["SNIPPET_CHARS", "query_terms", "snippet"]

Words = list[str]

SNIPPET_CHARS = 220
_TEXT_FIELDS = ("title", "description", "body")
_WORD = re.compile(WORD_PATTERN)
_CHUNK = 200
_FEW = 16
_HEAD = 4


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

    def matched(words: Words, stem: Words | None = None) -> list[bool]:
        """Whether each of ``words`` matched (only ``stem`` analysed, if given)."""
        term_of = field.terms_of(words if stem is None else stem)
        return [
            (term_of.get(w) in wanted)
            or (bool(folded_wanted) and fold(w) in folded_wanted)
            or (bool(sounds) and w[:1].isupper() and sound_key(w) in sounds)
            for w in words
        ]

    marks = _marks(text, wanted | folded_wanted, bool(sounds), matched)
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


def _marks(
    text: str,
    wanted: set[str],
    sounds: bool,
    matched: Callable[[Words, Words | None], list[bool]],
) -> list[tuple[int, int]]:
    """The spans of the words of ``text`` that ``matched`` accepts, the first and those
    within SNIPPET_CHARS after it (``wanted``: the terms they can give, to skip the rest).

    Stemming is slow (Snowball in Python), and a word can only give a wanted term if it
    begins as the term does once folded: stemmers rewrite endings (English "y" → "i" the
    last letter; "-biliti" → "-bl" past the fourth), so the first letters of the term but
    the last, up to four, must begin the word. Where folding keeps every character one
    character, a regular expression finds those words in a folded copy of the text at C
    speed; else (or for sound keys, which any capitalised word may give) every word is
    tried, a chunk at a time, with the first two letters as the test.
    """
    heads = {t[: min(_HEAD, max(2, len(t) - 1))] for t in wanted}
    folded = _fold_in_place(text) if not sounds and all(len(h) >= 2 for h in heads) else None
    if folded is not None:
        if not heads:
            return []
        alternatives = "|".join(sorted(map(re.escape, heads)))
        found = re.finditer(rf"(?<![\w{MARKS}])(?:{alternatives})[\w{MARKS}]*", folded)
        spans = [m.span() for m in found]
        hits: list[tuple[int, int]] = []
        for i in range(0, len(spans), _FEW):  # a few at a time: stop past the stretch shown
            few = spans[i : i + _FEW]
            if hits:
                few = [m for m in few if m[0] - hits[0][0] <= SNIPPET_CHARS]
                if not few:
                    break
            hits += itertools.compress(few, matched([text[s:e] for s, e in few], None))
        return [m for m in hits if m[0] - hits[0][0] <= SNIPPET_CHARS]
    two = {t[:2] for t in wanted} if all(len(t) >= 2 for t in wanted) else None
    marks: list[tuple[int, int]] = []
    words = _WORD.finditer(text)
    while chunk := list(itertools.islice(words, _CHUNK)):
        texts = [m.group(0) for m in chunk]
        stem = None if two is None else [w for w in texts if fold(w[:3])[:2] in two]
        for m, accepted in zip(chunk, matched(texts, stem), strict=True):
            if accepted:
                if marks and m.start() - marks[0][0] > SNIPPET_CHARS:
                    return marks
                marks.append(m.span())
    return marks


def _fold_in_place(text: str) -> str | None:
    """``text`` folded character by character (same length, same word boundaries), or None
    if folding would change a character into none or several (ß → ss, a combining mark)."""
    if text.isascii():
        return text.lower()
    table: dict[int, str] = {}
    for c in set(text):
        if not c.isascii():
            f = fold(c)
            if len(f) != 1:
                return None
            table[ord(c)] = f
    return text.translate(table).lower()
