"""What the index is told about one artefact: an :class:`IndexDoc`, built from its record.

The index never reads the archive itself: ingest (or a rebuild) hands it one ``IndexDoc`` per
artefact, made by :func:`doc_from_record` from the signed record and the extracted text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from artefacts.edtf import EdtfError, date_interval
from artefacts.language import guess_language

__all__ = ["IndexDoc", "doc_from_record"]


@dataclass(frozen=True)
class IndexDoc:
    """One artefact as the index sees it. Empty text fields are ``""``, absent dates ``None``.

    ``date`` is the event date as written (EDTF); ``date_start`` and ``date_end`` are the first
    and last day it covers (``YYYY-MM-DD``), or both ``None`` when the record has no valid date.
    """

    id: str
    sha256: str
    title: str
    text: str
    description: str
    people: tuple[str, ...]
    places: tuple[str, ...]
    tags: tuple[str, ...]
    kind: str
    language: str | None
    sensitivity: str
    date_start: str | None
    date_end: str | None
    created: str | None
    ingested: str
    source: str
    date: str | None = None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: object) -> tuple[str, ...]:
    """A list of strings (or one string) as a tuple of non-empty stripped strings."""
    items: Iterable[object] = value if isinstance(value, list | tuple) else [value]
    return tuple(s for s in (_text(v) for v in items) if s)


def _people(value: object) -> tuple[str, ...]:
    """Names from ``people``: plain strings or ``{name, role}`` mappings."""
    items: Iterable[object] = value if isinstance(value, list | tuple) else [value]
    names = (_text(p.get("name")) if isinstance(p, Mapping) else _text(p) for p in items)
    return tuple(n for n in names if n)


def doc_from_record(record: Mapping[str, Any], text: str) -> IndexDoc:
    """The IndexDoc of a record (as :func:`artefacts.record.build_record` makes it).

    ``text`` is the text extracted from the original ("" if none). Tolerant by design: the
    record was validated when it was signed, and a rebuild must not stop at one odd record,
    so a missing or malformed value becomes empty rather than an error. An invalid date
    leaves ``date_start``/``date_end`` as ``None`` (such a record is never found by a date
    filter, but is found by words).
    """
    meta: Mapping[str, Any] = record.get("metadata") or {}
    original: Mapping[str, Any] = record.get("original") or {}
    ingested: Mapping[str, Any] = record.get("ingested") or {}
    date = _text(meta.get("date")) or None
    start = end = None
    if date is not None:
        try:
            start, end = date_interval(date)
        except EdtfError:
            start = end = None
    # Declared in the sidecar, else guessed from the text at ingest (so that undeclared Spanish
    # or English text is still stemmed). Ingest guesses only when none is declared, so a
    # revision that removed the declared language leaves no guess: guess now.
    derived_text = (record.get("derived") or {}).get("text") or {}
    language = (
        _text(meta.get("language"))
        or _text(derived_text.get("language_guess"))
        or (guess_language(text) if isinstance(text, str) and text else None)
    )
    return IndexDoc(
        id=str(record["id"]),
        sha256=_text(original.get("sha256")),
        title=_text(meta.get("title")),
        text=text if isinstance(text, str) else "",
        description=_text(meta.get("description")),
        people=_people(meta.get("people")),
        places=_texts(meta.get("places")),
        tags=_texts(meta.get("tags")),
        kind=_text(record.get("kind")) or _text(meta.get("kind")) or "other",
        language=language,
        sensitivity=_text(meta.get("sensitivity")) or "restricted",
        date_start=start,
        date_end=end,
        created=_text(meta.get("created")) or None,
        ingested=_text(ingested.get("at")),
        # Where the artefact came from, in the describer's words; else the file it was read from.
        source=_text(meta.get("source")) or _text(ingested.get("source")),
        date=date,
    )
