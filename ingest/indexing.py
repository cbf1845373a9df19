"""Keeping the search index in step with the archive: after ingest, on rebuild, on check.

The index is a cache of the archive (DESIGN.md): everything in it comes from signed records
and derived text files, so it can always be thrown away and rebuilt. ``index/synced`` records
how far into the custody log the index has been brought, so a search can tell cheaply whether
an interrupted ingest left artefacts out, and add them.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive import ocfl
from archive.custody_log import parse_event
from archive.fsutil import write_atomic
from archive.store import Archive
from artefacts.record import parse_record
from constancia.errors import ConstanciaError, FormatError
from index.documents import IndexDoc, doc_from_record
from index.engine import IndexFeed, IndexMissing, SearchEngine, build_index, open_index

if TYPE_CHECKING:  # only searches need the query parser
    from index.query import SearchQuery, SearchResults

log = logging.getLogger(__name__)

SYNCED = "synced.json"
#: Custody events after which an artefact's index entry must be (re)written.
_INDEXED_ACTIONS = ("ingest", "import", "metadata-revised", "derived-added", "imported")
#: A run of this many files indexes while it goes (see RunIndexer), in this many worker
#: processes, writing a segment per FEED_PER_SEGMENT documents.
FEED_MIN_FILES = 1_000
FEED_WORKERS = 2
FEED_PER_SEGMENT = 2_500
_SEND_EVERY = 100


@dataclass
class IndexNote:
    """What was done to the index, for a message on stderr."""

    message: str


def _index_path(archive: Archive) -> Path:
    return archive.index_dir / "whoosh"


def _log_bytes(archive: Archive) -> int:
    try:
        return archive.log_path.stat().st_size
    except OSError:
        return 0


def _mark_synced(archive: Archive, log_bytes: int) -> None:
    archive.index_dir.mkdir(exist_ok=True)
    write_atomic(archive.index_dir / SYNCED, json.dumps({"log_bytes": log_bytes}).encode())


def _synced_bytes(archive: Archive) -> int | None:
    try:
        value = json.loads((archive.index_dir / SYNCED).read_text())["log_bytes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None


def artefact_document(archive: Archive, artefact_id: str) -> IndexDoc:
    """The IndexDoc of one artefact, from its head record and derived text."""
    return _document_in(archive.object_dir(artefact_id))


def load_document(item: IndexDoc | str) -> IndexDoc | None:
    """What an index worker process calls for each item a run sends it: a document made
    while staging, or the folder of a committed object, read here (None, with a warning,
    if it cannot be read)."""
    if isinstance(item, IndexDoc):
        return item
    folder = item
    try:
        return _document_in(Path(folder))
    except (OSError, ValueError, KeyError, TypeError, ConstanciaError) as e:
        log.warning("%s could not be indexed (%s); `constancia verify` says why", folder, e)
        return None


def _document_in(folder: Path) -> IndexDoc:
    state = ocfl.head_state(ocfl.read_inventory(folder))
    record = parse_record((folder / state["record.json"]).read_bytes())
    text = ""
    text_info = (record.get("derived") or {}).get("text") or {}
    path = state.get(str(text_info.get("path", "")))
    if path is not None:
        text = (folder / path).read_text(encoding="utf-8", errors="replace")
    return doc_from_record(record, text)


def archive_documents(archive: Archive, ids: Iterable[str] | None = None) -> Iterator[IndexDoc]:
    """Documents for every artefact (or ``ids``); an unreadable one is skipped with a warning
    (``constancia verify`` says what is wrong with it)."""
    for artefact in archive.artefact_ids() if ids is None else ids:
        try:
            yield artefact_document(archive, artefact)
        except (OSError, KeyError, ConstanciaError) as e:
            log.warning("artefact %s left out of the index: %s", artefact[:16], e)


def add_records(
    archive: Archive,
    ids: list[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> IndexNote | None:
    """Add freshly ingested artefacts to the index. Called under the archive lock at the end
    of an ingest; a broken or missing index is rebuilt from the archive."""
    if not ids:
        return None
    path = _index_path(archive)
    log_bytes = _log_bytes(archive)
    try:
        engine = open_index(path)
    except ConstanciaError as e:
        count = build_index(path, archive_documents(archive), progress=progress)
        _mark_synced(archive, log_bytes)
        if isinstance(e, IndexMissing):
            return None  # a new archive's first ingest: nothing to tell
        return IndexNote(f"the search index was rebuilt ({e.message}): {count} artefacts")
    try:
        engine.add(archive_documents(archive, ids), progress=progress)
    finally:
        engine.close()
    _mark_synced(archive, log_bytes)
    return None


class RunIndexer:
    """Keeps the index in step with one ingest or import run, under its archive lock.

    A run of many files hands each committed batch to index worker processes (a feed) while
    it stages the next, so analysis uses the second core instead of waiting for the end;
    :meth:`finish` commits what they wrote in one go. A small run, or an index that cannot
    take a feed (missing in an archive that has artefacts, unreadable, no sync mark), is
    indexed at the end as before. Artefacts a run interrupted earlier left out of the index
    are added too (they are in the log between the sync mark and this run's first event).
    """

    def __init__(self, archive: Archive, expected: int, *, enabled: bool = True) -> None:
        self.archive = archive
        self.enabled = enabled
        self.ids: list[str] = []
        self._replaced: list[str] = []
        self._synced = _synced_bytes(archive)
        self._start = _log_bytes(archive)
        self._feed: IndexFeed | None = None
        self._docs: list[IndexDoc] = []  # staged, not yet sent
        self._sent: set[str] = set()
        if expected < FEED_MIN_FILES or not enabled:
            return
        try:
            exists = (_index_path(archive) / "CURRENT").exists()
            if self._synced is None and exists:
                return  # no sync mark: the end of the run rebuilds
            # No index yet: a feed may start one if the archive is empty (else: a rebuild).
            empty = not exists and not any(ocfl.list_object_dirs(archive.objects))
            self._feed = IndexFeed(
                _index_path(archive),
                loader=load_document,
                workers=FEED_WORKERS,
                per_segment=FEED_PER_SEGMENT,
                expected=expected,
                create=empty,
            )
        except (ConstanciaError, OSError) as e:
            log.info("indexing at the end of the run: %s", e)
            self._feed = None

    def staged(self, doc: Callable[[], IndexDoc], artefact: str) -> None:
        """A new artefact is staged, its batch not yet committed: with a feed, its document
        (made by ``doc``) is analysed now; the commit at the end lists it only if the run
        got that far, and a run that fails aborts the feed."""
        if self._feed is None:
            return
        self._docs.append(doc())
        self._sent.add(artefact)
        if len(self._docs) >= _SEND_EVERY:
            self._send()

    def _send(self, items: Iterable[IndexDoc | str] = ()) -> None:
        docs, self._docs = self._docs, []
        if self._feed is None:
            return
        try:
            self._feed.send(itertools.chain(docs, items))
        except (ConstanciaError, OSError) as e:
            log.info("indexing at the end of the run: %s", e)
            self._feed = None

    def committed(self, ids: list[str], *, replaced: Iterable[str] = ()) -> None:
        """``ids`` (new artefacts) and ``replaced`` (artefacts with a new head version) are
        now in the archive: their batch is committed."""
        self.ids.extend(ids)
        self._replaced.extend(replaced)
        if self._feed is not None:
            self._send(str(self.archive.object_dir(i)) for i in ids if i not in self._sent)

    def abort(self) -> None:
        if self._feed is not None:
            self._feed.abort()
            self._feed = None

    def finish_run(self, bar: Any) -> list[str]:
        """At the end of a run (archive committed and signed): bring the index up to date,
        with ``bar`` (a progress bar, or None) showing it. Returns notes for the user: the
        index is a cache, so a failure is a note (the next search repairs it), never a loss."""
        if not self.ids and not self._replaced:
            self.abort()  # nothing came in (all duplicates): stop the workers, if any
            return []
        if not self.enabled:
            return [
                "the search index was left for later: the next search brings it up to "
                "date (or run `constancia index rebuild`)"
            ]
        if bar is not None:
            bar.start(len(self.ids) + len(self._replaced), 0)
        try:
            note = self.finish(bar.advance_files if bar is not None else None)
        except (ConstanciaError, OSError) as e:
            return [
                f"the search index was not updated ({e}); it will catch up on the next "
                "search, or run `constancia index rebuild`"
            ]
        return [note.message] if note is not None else []

    def finish(self, progress: Callable[[int], None] | None = None) -> IndexNote | None:
        """Bring the index up to date with the run; raises (ConstanciaError, OSError) when
        it could not be (the next search catches up)."""
        self._send()
        feed, self._feed = self._feed, None
        if feed is None:
            return add_records(self.archive, self._all(), progress=progress)
        log_bytes = _log_bytes(self.archive)
        try:
            feed.commit(progress)
        except ConstanciaError as e:
            log.info("indexing again at the end of the run: %s", e)
            return add_records(self.archive, self._all(), progress=progress)
        others = list(dict.fromkeys(self._earlier() + self._replaced))
        if others:
            engine = open_index(_index_path(self.archive))
            try:
                engine.add(archive_documents(self.archive, others))
            finally:
                engine.close()
        _mark_synced(self.archive, log_bytes)
        return None

    def _all(self) -> list[str]:
        return list(dict.fromkeys(self._earlier() + self.ids + self._replaced))

    def _earlier(self) -> list[str]:
        """Artefacts an earlier, interrupted run left out of the index."""
        if self._synced is None or self._synced >= self._start:
            return []
        return _pending_ids(self.archive, self._synced, self._start)


def rebuild(archive: Archive, *, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the archive (into a new folder, then swapped in)."""
    log_bytes = _log_bytes(archive)
    count = build_index(_index_path(archive), archive_documents(archive), progress=progress)
    _mark_synced(archive, log_bytes)
    return count


def _pending_ids(archive: Archive, since: int, until: int | None = None) -> list[str]:
    """Artefacts whose index entries custody events after byte ``since`` (up to ``until``)
    call for."""
    try:
        with open(archive.log_path, "rb") as f:
            f.seek(since)
            tail = f.read() if until is None else f.read(max(0, until - since))
    except OSError:
        return []
    ids: dict[str, None] = {}
    for line in tail.split(b"\n"):
        if not line or not any(f'"action":"{a}"'.encode() in line for a in _INDEXED_ACTIONS):
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        if event["action"] in _INDEXED_ACTIONS and isinstance(event["artefact"], str):
            ids[event["artefact"]] = None
    return [i for i in ids if archive.has_artefact(i)]


def ensure_current(
    archive: Archive, *, progress: Callable[[int], None] | None = None
) -> tuple[SearchEngine, IndexNote | None]:
    """An open index that covers the whole archive: rebuilt if missing or unreadable, brought
    up to date if an interrupted ingest left artefacts out. Writing takes the archive lock."""
    path = _index_path(archive)
    synced = _synced_bytes(archive)
    log_bytes = _log_bytes(archive)
    if synced is not None and synced == log_bytes:
        try:
            return open_index(path, readonly=True), None
        except ConstanciaError:
            pass
    with archive.lock():
        note = None
        try:
            engine = open_index(path)
        except ConstanciaError as e:
            count = rebuild(archive, progress=progress)
            note = IndexNote(
                f"the search index was missing or unreadable ({e.message}); "
                f"rebuilt it from the archive: {count} artefacts"
            )
        else:
            pending = _pending_ids(archive, synced or 0) if synced is not None else None
            if pending is None:
                engine.close()
                count = rebuild(archive, progress=progress)
                note = IndexNote(
                    f"the search index had no sync mark; rebuilt it: {count} artefacts"
                )
            else:
                if pending:
                    engine.add(archive_documents(archive, pending), progress=progress)
                    note = IndexNote(f"added {len(pending)} artefact(s) the index had missed")
                engine.close()
                _mark_synced(archive, log_bytes)
    return open_index(path, readonly=True), note


def search(archive: Archive, query: SearchQuery) -> tuple[SearchResults, IndexNote | None]:
    """Search the archive's index (making it current first)."""
    engine, note = ensure_current(archive)
    try:
        return engine.search(query), note
    finally:
        engine.close()


def check(archive: Archive) -> list[str]:
    """Drift between the index and the archive: missing, extra or changed artefacts."""
    expected = {}
    for artefact in archive.artefact_ids():
        try:
            folder = archive.object_dir(artefact)
            state = ocfl.head_state(ocfl.read_inventory(folder))
            expected[artefact] = parse_record((folder / state["record.json"]).read_bytes())[
                "original"
            ]["sha256"]
        except (OSError, KeyError, ConstanciaError):
            expected[artefact] = ""
    from index.engine import index_is_current

    return index_is_current(_index_path(archive), expected)


def matching_ids(archive: Archive, text: str, *, page_size: int = 1000) -> list[str]:
    """Every artefact the search ``text`` finds (all pages), in rank order."""
    from index.query import SearchQuery

    engine, _ = ensure_current(archive)
    out: list[str] = []
    try:
        page = 1
        while True:
            results = engine.search(SearchQuery(text=text, limit=page_size, page=page))
            out.extend(h.id for h in results.hits)
            if not results.hits or len(out) >= results.total:
                return out
            page += 1
    finally:
        engine.close()
