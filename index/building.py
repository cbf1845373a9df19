"""Writing documents into a Whoosh index: one at a time, or in bulk with parallel workers.

Measured on 5 KB Spanish documents (2 cores): Whoosh's writer costs ~2 ms a document to
take the postings and ~2.3 ms to write them at commit, when its posting pool fits in memory.
Past ``limitmb`` the pool spills to disk and merges runs with a pickle per posting (+2.6 ms
a document), so a bulk build writes a new segment every ``PER_SEGMENT`` documents instead,
in ``workers`` processes that each fill their own segments. The parent then lists all
segments in one new table of contents, exactly as Whoosh's own MpWriter does
(``multisegment=True``); the private writer methods used are those MpWriter uses, in the
pinned whoosh-reloaded 2.7.5.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.writing import SegmentWriter

from index.analyzers import WORD_PATTERN
from index.documents import IndexDoc
from index.fastpostings import SidecarWriter, sidecar_name
from index.schema import VOCABULARY_ID, Analyzed, FastText, group_of, value_list

__all__ = [
    "INDEXNAME",
    "VOCABULARY_ID",
    "add_serial",
    "build_parallel",
    "fields_of",
    "new_codec",
]

INDEXNAME = "MAIN"
#: Text kept for snippets (the rest is indexed, not stored): bounds the stored fields.
SNIPPET_TEXT_LIMIT = 200_000
#: Documents per segment in a bulk build: the posting pool (~60 KB a document) stays in
#: memory, and a 100k build gives ~20 segments.
PER_SEGMENT = 5_000
LIMIT_MB = 512
#: Postings per block: Whoosh's 128 makes a common term's list 600 blocks at 100k documents,
#: each with its own header, decompression and unpickling.
BLOCK_POSTINGS = 512
_BATCH = 100
_WORD = re.compile(WORD_PATTERN)


def new_codec() -> Any:
    """The codec of every segment we write (W3, larger posting blocks)."""
    return W3Codec(blocklimit=BLOCK_POSTINGS)


def _day(day: str | None) -> int:
    return int(day.replace("-", "")) if day else 0


def fields_of(doc: IndexDoc) -> dict[str, Any]:
    """The values Whoosh is given for one document (see schema.py for each field)."""
    group = group_of(doc.language)
    tag = (doc.language or "und").strip().lower()
    primary = tag.split("-")[0]
    written = (doc.title, doc.description, doc.text, *doc.people, *doc.places, *doc.tags)
    facets = [f"kind={doc.kind}", f"lang={primary}"]
    if doc.date_start:
        facets.append(f"decade={doc.date_start[:3]}0")
    facets += [f"place={p}" for p in doc.places]
    text = doc.text[:SNIPPET_TEXT_LIMIT]
    fields: dict[str, Any] = {
        "id": doc.id,
        "sha256": doc.sha256.encode("ascii", "replace"),
        "shown": (doc.title, doc.kind, doc.date, group),
        "kind": doc.kind.lower(),
        "sensitivity": doc.sensitivity.lower(),
        "lang": f"{tag} {primary}",
        "date_start": _day(doc.date_start),
        "date_end": _day(doc.date_end),
        "facet": value_list(facets),
        f"body_{group}": written,
    }
    if text:
        fields["text_z"] = zlib.compress(text.encode("utf-8"), 1)
    optional = {
        "people": doc.people,
        "people_sound": doc.people,
        "places": doc.places,
        "tags": value_list(doc.tags) if doc.tags else "",
        "source": doc.source,
        "created": doc.created,
        "ingested": doc.ingested,
        f"title_{group}": doc.title,
        f"description_{group}": doc.description,
    }
    fields.update({k: v for k, v in optional.items() if v})
    return fields


class _Filler:
    """Adds documents to a writer and remembers the words seen, for the vocabulary doc;
    with a ``sidecar``, also keeps a copy of the text postings (see fastpostings)."""

    def __init__(self, writer: Any, sidecar: SidecarWriter | None = None) -> None:
        self.writer = writer
        self.sidecar = sidecar
        self.vocabulary: set[str] = set()
        self.count = 0

    def add(self, doc: IndexDoc) -> None:
        fields = fields_of(doc)
        for part in fields[f"body_{group_of(doc.language)}"]:
            self.vocabulary.update(_WORD.findall(part))
        if self.sidecar is not None:
            schema = self.writer.schema
            docnum = self.writer.docnum
            for name in self.sidecar.fields.intersection(fields):
                items = list(schema[name].index(fields[name]))
                self.sidecar.add(name, docnum, items)
                fields[name] = Analyzed(items)
        self.writer.add_document(**fields)
        self.count += 1

    def add_vocabulary(self) -> None:
        if self.vocabulary:
            self.writer.add_document(id=VOCABULARY_ID, words=tuple(self.vocabulary))


def sidecar_fields(schema: Any) -> list[str]:
    """The fields whose postings go into sidecars: text with positions."""
    return [n for n, f in schema.items() if isinstance(f, FastText) and f.positions]


def add_serial(
    writer: Any,
    docs: Iterable[IndexDoc],
    *,
    replace: bool,
    progress: Callable[[int], None] | None,
) -> tuple[int, list[IndexDoc]]:
    """Add ``docs`` with ``writer`` (not committed). Returns the count, and the documents
    whose ID came again in ``docs`` (to be added after the commit: an uncommitted document
    cannot be replaced)."""
    filler = _Filler(writer)
    seen: set[str] = set()
    again: list[IndexDoc] = []
    for doc in docs:
        if doc.id in seen:
            again.append(doc)
            continue
        seen.add(doc.id)
        if replace:
            writer.delete_by_term("id", doc.id)
        filler.add(doc)
        if progress is not None:
            progress(filler.count)
    filler.add_vocabulary()
    return filler.count, again


# -- parallel bulk build ----------------------------------------------------------------------


def _open(folder: str) -> Any:
    return FileIndex(FileStorage(folder), indexname=INDEXNAME)


def _finish_segment(filler: _Filler, folder: Path) -> Any:
    filler.add_vocabulary()
    # As MpWriter's sub-writers do: write the segment, leave the table of contents alone.
    segment = filler.writer._finalize_segment()
    if filler.sidecar is not None:
        folded = filler.writer.schema["words"].terms_of(filler.vocabulary)
        filler.sidecar.vocabulary = {folded[w] for w in filler.vocabulary if folded[w]}
        filler.sidecar.write(folder / sidecar_name(segment))
    return segment


def _worker(folder: str, jobs: Any, results: Any, per_segment: int) -> None:
    """A build process: fills segments from batches of documents until it gets None."""
    try:
        ix = _open(folder)
        segments: list[Any] = []
        count = 0
        filler: _Filler | None = None
        while (batch := jobs.get()) is not None:
            for doc in batch:
                if filler is None:
                    writer = SegmentWriter(
                        ix, _lk=False, limitmb=LIMIT_MB, compound=False, codec=new_codec()
                    )
                    filler = _Filler(writer, SidecarWriter(sidecar_fields(ix.schema)))
                filler.add(doc)
                if filler.count >= per_segment:
                    count += filler.count
                    segments.append(_finish_segment(filler, Path(folder)))
                    filler = None
        if filler is not None:
            count += filler.count
            segments.append(_finish_segment(filler, Path(folder)))
        results.put(("ok", count, segments))
    except BaseException as e:  # reported to the parent, which stops the build
        results.put(("error", f"{type(e).__name__}: {e}", None))


def _batches(docs: Iterable[IndexDoc], size: int) -> Iterator[list[IndexDoc]]:
    batch: list[IndexDoc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class BuildFailed(RuntimeError):
    """A build process failed or died; the message says how."""


def build_parallel(
    ix: Any,
    folder: Path,
    docs: Iterable[IndexDoc],
    *,
    workers: int,
    progress: Callable[[int], None] | None = None,
    per_segment: int | None = None,
) -> tuple[int, list[IndexDoc]]:
    """Add ``docs`` to an empty index with ``workers`` processes; commit once.

    Returns the count and the documents whose ID came again (to add afterwards, replacing
    the first). Raises BuildFailed if a process fails: documents are never dropped silently.
    """
    per_segment = per_segment or PER_SEGMENT
    # spawn: safe whatever threads the parent runs, and the same on every platform.
    ctx = multiprocessing.get_context("spawn")
    jobs: Any = ctx.Queue(maxsize=workers * 4)
    results: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(str(folder), jobs, results, per_segment), daemon=True)
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    outcomes: list[tuple[str, Any, Any]] = []

    def put(item: list[IndexDoc] | None) -> None:
        while True:
            try:
                jobs.put(item, timeout=0.5)
                return
            except queue.Full:
                _check(procs, results, outcomes)

    again: list[IndexDoc] = []
    seen: set[str] = set()

    def first_of_each(items: Iterable[IndexDoc]) -> Iterator[IndexDoc]:
        for doc in items:
            if doc.id in seen:
                again.append(doc)
            else:
                seen.add(doc.id)
                yield doc

    try:
        sent = 0
        for batch in _batches(first_of_each(docs), _BATCH):
            put(batch)
            sent += len(batch)
            if progress is not None:
                progress(sent)
        for _ in procs:
            put(None)
        while len(outcomes) < len(procs):
            try:
                outcomes.append(results.get(timeout=0.5))
            except queue.Empty:
                _check(procs, results, outcomes)
        for p in procs:
            p.join()
    except BaseException:
        for p in procs:
            p.kill()
        raise
    errors = [str(o[1]) for o in outcomes if o[0] != "ok"]
    if errors:
        raise BuildFailed(errors[0])
    count = sum(int(o[1]) for o in outcomes)
    if count != sent:
        raise BuildFailed(f"{sent} documents were sent to the build processes, {count} indexed")
    segments = [s for o in outcomes for s in o[2]]
    writer = ix.writer()
    # As MpWriter.commit does with multisegment=True: list the new segments, add nothing.
    writer._close_segment()
    writer._commit_toc(writer.segments + segments)
    writer._finish()
    return count, again


def _check(procs: list[Any], results: Any, outcomes: list[tuple[str, Any, Any]]) -> None:
    """Raise BuildFailed if a build process reported an error or died without a word."""
    try:
        while True:
            outcome = results.get_nowait()
            if outcome[0] != "ok":
                raise BuildFailed(str(outcome[1]))
            outcomes.append(outcome)
    except queue.Empty:
        pass
    for p in procs:
        if not p.is_alive() and p.exitcode not in (0, None):
            raise BuildFailed(f"a build process died (exit code {p.exitcode})")
