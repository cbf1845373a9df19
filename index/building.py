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

import contextlib
import multiprocessing
import os
import queue
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.writing import SegmentWriter

from index.documents import IndexDoc
from index.fastpostings import SidecarWriter, sidecar_name
from index.schema import VOCABULARY_ID, Analyzed, FastText, group_of, value_list, words_of

__all__ = [
    "INDEXNAME",
    "VOCABULARY_ID",
    "ParallelBuild",
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
#: Build processes yield the CPU to the run that feeds them (an ingest is the critical path:
#: three busy processes on two cores halved its share while a segment was written), and
#: catch up when it waits on the disk.
WORKER_NICENESS = 5
#: Batches queued per worker, at most.
_QUEUED_BATCHES = 12
#: Documents each process leaves for its last segment when the total is known in advance.
LAST_SEGMENT = 300


#: zlib level of posting blocks: 1 writes them ~15% faster than Whoosh's 3 for an index 3%
#: larger (measured on 2,500 testimonies); blocks record their level, readers need nothing.
POSTINGS_COMPRESSION = 1


def new_codec() -> Any:
    """The codec of every segment we write (W3, larger posting blocks)."""
    return W3Codec(blocklimit=BLOCK_POSTINGS, compression=POSTINGS_COMPRESSION)


#: Posting blocks of fewer postings are written uncompressed (see plain_small_blocks).
SMALL_BLOCK = 16


class _SmallBlocksPlain(W3PostingsWriter):  # type: ignore[misc]
    """W3's postings writer, leaving a block of few postings uncompressed. Whoosh means to
    skip compressing a pickle under 20 bytes but overwrites its own decision (the pinned
    2.7.5), and a zlib.compress call costs microseconds however little it is given: most
    terms of a segment are in one or two documents. A block records whether it is
    compressed, so readers need nothing new."""

    # Whoosh's block buffer (set in W3PostingsWriter._new_block; untyped there).
    _ids: Any
    _weights: Any
    _values: list[bytes]
    _blocklimit: int
    _maxweight: Any
    _minlength: int | None
    _maxlength: int

    def add_posting(self, id_: Any, weight: Any, vbytes: bytes, length: int | None = None) -> None:
        """W3PostingsWriter.add_posting without its per-posting type asserts (our own
        segment writer makes every posting; ~470 a document)."""
        ids = self._ids
        if len(ids) >= self._blocklimit:
            self._write_block()
            ids = self._ids
        ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        if vbytes:
            self._values.append(vbytes)
        if length:
            minlength = self._minlength
            if minlength is None or length < minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length

    def _write_block(self, last: bool = False) -> None:
        level: int = getattr(self, "_compression")  # noqa: B009 (untyped in Whoosh)
        if len(self._ids) < SMALL_BLOCK:
            self._compression = 0
        try:
            super()._write_block(last)
        finally:
            self._compression = level


class _Codec:
    """Stands in for a segment writer's codec: the same, but postings written by
    _SmallBlocksPlain. Set on the field writer only, never stored: Whoosh pickles the
    segment's own codec (a plain W3Codec) into the table of contents."""

    def __init__(self, codec: Any) -> None:
        self._codec = codec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._codec, name)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        c = self._codec
        return _SmallBlocksPlain(
            dbfile,
            blocklimit=c._blocklimit,
            byteids=byteids,
            compression=c._compression,
            inlinelimit=c._inlinelimit,
        )


def plain_small_blocks(writer: Any) -> Any:
    """``writer`` (a SegmentWriter of new_codec()) writing small posting blocks plain."""
    fieldwriter = getattr(writer, "fieldwriter", None)
    if fieldwriter is not None and isinstance(getattr(fieldwriter, "_codec", None), W3Codec):
        fieldwriter._codec = _Codec(fieldwriter._codec)
    return writer


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
        schema = self.writer.schema
        # The body's words make the vocabulary and the body's postings: tokenized once.
        body = f"body_{group_of(doc.language)}"
        words = words_of(fields[body])
        for part in words:
            self.vocabulary.update(part)
        fields[body] = Analyzed(list(schema[body].index_words(words)))
        if self.sidecar is not None:
            docnum = self.writer.docnum
            for name in self.sidecar.fields.intersection(fields):
                value = fields[name]
                items = (
                    value.items if isinstance(value, Analyzed) else list(schema[name].index(value))
                )
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


class _Lengths:
    """A segment's field lengths, each read once. Writing the postings, Whoosh asks for the
    length of the posting's field in its document once per posting (~400 a document), each
    a read through the column file just written: a third of the flush."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._count = reader.doc_count_all()
        self._fields: dict[str, list[int]] = {}

    def of_field(self, fieldname: str) -> Callable[[int], int]:
        """The length of ``fieldname`` in a document, by document number."""
        known = self._fields.setdefault(fieldname, [-1] * self._count)
        read = self._reader.doc_field_length

        def length(docnum: int) -> int:
            n = known[docnum]
            if n < 0:
                n = known[docnum] = read(docnum, fieldname, 0)
            return n

        return length


def _no_length(docnum: int) -> int:
    return 0


def _add_postings(fieldwriter: Any, schema: Any, lengths: _Lengths | None, items: Any) -> None:
    """Whoosh's FieldWriter.add_postings (the pinned 2.7.5) for our segments: the same calls
    in the same order for (field, term, docnum, weight, value) postings sorted by field and
    term, each posting handed straight to the field's postings writer, its field length
    looked up by field (the loop runs once per posting: ~470 a document)."""
    lastfn: str | None = None
    lasttext: bytes | None = None
    add: Any = None
    length_of: Callable[[int], int] = _no_length
    for fieldname, btext, docnum, weight, value in items:
        if fieldname != lastfn:
            if lastfn is not None:
                if fieldname < lastfn:
                    raise OutOfOrderError(f"Field {lastfn!r} .. {fieldname!r}")
                if lasttext is not None:
                    fieldwriter.finish_term()
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            post = getattr(fieldwriter, "_postwriter", None)
            add = post.add_posting if post is not None else fieldwriter.add
            length_of = lengths.of_field(fieldname) if lengths is not None else _no_length
            lastfn, lasttext = fieldname, None
        if docnum == -1:  # Whoosh's marker of a spelling word, not a posting
            continue
        if btext != lasttext:
            if lasttext is not None:
                if btext < lasttext:
                    raise OutOfOrderError(f"Term {fieldname}:{lasttext!r} .. {btext!r}")
                fieldwriter.finish_term()
            fieldwriter.start_term(btext)
            lasttext = btext
        add(docnum, weight, b"" if value is None else value, length_of(docnum))
    if lasttext is not None:
        fieldwriter.finish_term()
    if lastfn is not None:
        fieldwriter.finish_field()


def _finalize(writer: Any) -> Any:
    """SegmentWriter._finalize_segment with the field lengths read once (see _Lengths) and
    the postings written by _add_postings."""
    writer.perdocwriter.close()
    reader = writer.per_document_reader() if writer.codec.length_stats else None
    lengths = _Lengths(reader) if reader is not None else None
    _add_postings(writer.fieldwriter, writer.schema, lengths, writer.pool.iter_postings())
    writer.fieldwriter.close()
    if reader is not None:
        reader.close()
    writer._close_segment()
    writer._assemble_segment()
    return writer.get_segment()


def _finish_segment(filler: _Filler, folder: Path) -> Any:
    filler.add_vocabulary()
    # As MpWriter's sub-writers do: write the segment, leave the table of contents alone.
    segment = _finalize(filler.writer)
    if filler.sidecar is not None:
        folded = filler.writer.schema["words"].terms_of(filler.vocabulary)
        filler.sidecar.vocabulary = {folded[w] for w in filler.vocabulary if folded[w]}
        filler.sidecar.write(folder / sidecar_name(segment))
    return segment


def _worker(
    folder: str,
    jobs: Any,
    results: Any,
    per_segment: int,
    loader: Callable[[Any], IndexDoc | None] | None,
    flush_at: int,
    parent: int | None = None,
) -> None:
    """A build process: fills segments from batches until it gets None. A batch holds
    documents, or (with a ``loader``) what the loader turns into one (None: nothing to add).
    A segment is also written when the process has handled ``flush_at`` items (if > 0), so
    that the last one, written after the caller's last batch, is small."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    try:
        ix = _open(folder)
        segments: list[Any] = []
        count = 0
        filler: _Filler | None = None
        while (batch := _next_batch(jobs, parent)) is not None:
            for item in batch:
                doc = loader(item) if loader is not None else item
                if doc is None:
                    count += 1
                    continue
                if filler is None:
                    writer = plain_small_blocks(
                        SegmentWriter(
                            ix, _lk=False, limitmb=LIMIT_MB, compound=False, codec=new_codec()
                        )
                    )
                    filler = _Filler(writer, SidecarWriter(sidecar_fields(ix.schema)))
                filler.add(doc)
                if filler.count >= per_segment or count + filler.count == flush_at:
                    count += filler.count
                    segments.append(_finish_segment(filler, Path(folder)))
                    filler = None
        if filler is not None:
            count += filler.count
            segments.append(_finish_segment(filler, Path(folder)))
        results.put(("ok", count, segments))
    except BaseException as e:  # reported to the parent, which stops the build
        results.put(("error", f"{type(e).__name__}: {e}", None))


def _next_batch(jobs: Any, parent: int | None) -> list[Any] | None:
    """The next batch; exits the process if the parent is gone (killed: no one will send
    the None that ends the build, and the queue never reports the parent's end)."""
    while True:
        try:
            batch: list[Any] | None = jobs.get(timeout=1.0)
            return batch
        except queue.Empty:
            if parent is not None and os.getppid() != parent:
                os._exit(0)


def _batches(docs: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class BuildFailed(RuntimeError):
    """A build process failed or died; the message says how."""


class ParallelBuild:
    """Worker processes that write new segments into the index folder while the caller goes
    on; :meth:`commit` lists them in the index's table of contents in one commit.

    Segments written but never committed are not part of the index (Whoosh lists segments
    only in its table of contents). Documents are never dropped silently: a failed or dead
    worker makes :meth:`send` or :meth:`commit` raise BuildFailed.
    """

    def __init__(
        self,
        ix: Any,
        folder: Path,
        *,
        workers: int,
        per_segment: int | None = None,
        loader: Callable[[Any], IndexDoc | None] | None = None,
        expected: int | None = None,
    ) -> None:
        self.ix = ix
        self.sent = 0
        # spawn: safe whatever threads the parent runs, and the same on every platform.
        ctx = multiprocessing.get_context("spawn")
        # Deep enough to take what a run sends while every worker writes a segment (~3 s):
        # a shallow queue stopped the run then. At most ~15 MB of documents wait in it.
        self._jobs: Any = ctx.Queue(maxsize=workers * _QUEUED_BATCHES)
        self._results: Any = ctx.Queue()
        # When the count is known, each process writes a segment shortly before its share
        # ends: what is left to write once the caller has sent its last batch stays small.
        flush_at = max(0, expected // workers - LAST_SEGMENT) if expected else 0
        per_segment = per_segment or PER_SEGMENT
        args = (str(folder), self._jobs, self._results, per_segment, loader, flush_at, os.getpid())
        self._procs = [ctx.Process(target=_worker, args=args, daemon=True) for _ in range(workers)]
        self._outcomes: list[tuple[str, Any, Any]] = []
        try:
            for p in self._procs:
                p.start()
        except BaseException:
            self.kill()
            raise

    def _put(self, item: list[Any] | None) -> None:
        while True:
            try:
                self._jobs.put(item, timeout=0.5)
                return
            except queue.Full:
                _check(self._procs, self._results, self._outcomes)

    def send(self, items: Iterable[Any], progress: Callable[[int], None] | None = None) -> None:
        """Queue documents (or loader items); waits while the workers are behind."""
        for batch in _batches(items, _BATCH):
            self._put(batch)
            self.sent += len(batch)
            if progress is not None:
                progress(self.sent)

    def finish(self) -> tuple[int, list[Any]]:
        """Wait for the workers to write their last segments: (items handled, segments)."""
        try:
            for _ in self._procs:
                self._put(None)
            while len(self._outcomes) < len(self._procs):
                try:
                    self._outcomes.append(self._results.get(timeout=0.5))
                except queue.Empty:
                    _check(self._procs, self._results, self._outcomes)
            for p in self._procs:
                p.join()
        except BaseException:
            self.kill()
            raise
        errors = [str(o[1]) for o in self._outcomes if o[0] != "ok"]
        if errors:
            raise BuildFailed(errors[0])
        count = sum(int(o[1]) for o in self._outcomes)
        if count != self.sent:
            raise BuildFailed(
                f"{self.sent} documents were sent to the build processes, {count} indexed"
            )
        return count, [s for o in self._outcomes for s in o[2]]

    def commit(self, open_writer: Callable[[], Any]) -> int:
        """Finish, then list the new segments beside those already there with a writer from
        ``open_writer`` (it takes the index's lock), adding nothing else: as MpWriter.commit
        does with ``multisegment=True``. Returns the number of items handled."""
        count, segments = self.finish()
        writer = open_writer()
        writer._close_segment()
        writer._commit_toc(writer.segments + segments)
        writer._finish()
        return count

    def kill(self) -> None:
        for p in self._procs:
            if p.is_alive():
                p.kill()
        for p in self._procs:
            with contextlib.suppress(AssertionError):  # a process that never started
                p.join(timeout=5)


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
    again: list[IndexDoc] = []
    seen: set[str] = set()

    def first_of_each(items: Iterable[IndexDoc]) -> Iterator[IndexDoc]:
        for doc in items:
            if doc.id in seen:
                again.append(doc)
            else:
                seen.add(doc.id)
                yield doc

    build = ParallelBuild(ix, folder, workers=workers, per_segment=per_segment)
    try:
        build.send(first_of_each(docs), progress)
    except BaseException:
        build.kill()
        raise
    count = build.commit(ix.writer)
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
