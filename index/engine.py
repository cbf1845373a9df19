"""The search engine behind a small interface, and the index folder's life cycle.

Ingest and the command line use only :class:`SearchEngine`, :func:`open_index`,
:func:`build_index` and :func:`index_is_current`; Whoosh stays inside ``index/``.

The index is a cache of the archive: Whoosh never fsyncs, and its files hold pickles. So a
missing, damaged or outdated index raises :class:`IndexCorrupt` (the caller rebuilds), and
an index folder must never come from outside (an import must not carry one).

On disk, ``PATH/CURRENT`` names the folder that holds the live Whoosh index
(``PATH/v-…``). A rebuild writes a new folder and then replaces ``CURRENT`` atomically, so a
reader sees the old index or the new one, never a half-built one or none; an engine opened
earlier follows the swap at its next search.

Where the time goes, and what is done about it: index.building (writing), index.schema
(analysis), index.matching (searching), index.fastpostings (reading postings).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import LockError

from archive.fsutil import write_atomic
from constancia.errors import ConstanciaError
from index.building import (
    INDEXNAME,
    BuildFailed,
    ParallelBuild,
    add_serial,
    build_parallel,
    new_codec,
    plain_small_blocks,
)
from index.documents import IndexDoc
from index.schema import build_schema

if TYPE_CHECKING:  # searching needs numpy and the query parser; writing needs neither
    from index.query import SearchQuery, SearchResults
    from index.searching import Searching

__all__ = [
    "IndexBusy",
    "IndexCorrupt",
    "IndexFeed",
    "IndexMissing",
    "SearchEngine",
    "WhooshEngine",
    "build_index",
    "index_is_current",
    "open_index",
]

log = logging.getLogger(__name__)

FORMAT = "constancia-index/1"
_CURRENT = "CURRENT"
#: A segment smaller than this is merged with other small ones; larger ones are left alone.
SMALL_SEGMENT = 2_000
_MAX_SMALL_SEGMENTS = 6
_ABANDONED_AFTER = 3600.0
#: Seconds a writer waits for another writer to finish before IndexBusy.
LOCK_TIMEOUT = 30.0
#: A build starts worker processes once it has this many documents in hand.
PARALLEL_MIN_DOCS = 2_000


class IndexCorrupt(ConstanciaError):
    """The index cannot be read (damaged, or built by another version): rebuild it."""


class IndexMissing(IndexCorrupt):
    """There is no index yet: build it."""


class IndexBusy(ConstanciaError):
    """Another process is writing to the index."""


class SearchEngine(Protocol):
    """What ingest and the command line need of a search engine."""

    def add(
        self, docs: Iterable[IndexDoc], *, progress: Callable[[int], None] | None = None
    ) -> int:
        """Add documents, replacing any with the same ID; returns how many were added.
        ``progress(n)`` is called with the number added so far."""
        ...

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by ID; returns how many were in the index."""
        ...

    def search(self, q: SearchQuery) -> SearchResults:
        """Run a search; UsageError for a query that cannot be read."""
        ...

    def digests(self) -> dict[str, str]:
        """ID → SHA-256 of every indexed document (for `index check`)."""
        ...

    def close(self) -> None:
        """Release files; the engine cannot be used afterwards."""
        ...


# -- the index folder -----------------------------------------------------------------------


def _read_current(path: Path) -> Path:
    """The folder of the live index named by PATH/CURRENT."""
    try:
        info = json.loads((path / _CURRENT).read_text("utf-8"))
    except FileNotFoundError:
        raise IndexMissing(f"there is no search index in {path}") from None
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"the search index's {_CURRENT} file cannot be read ({e})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else None
        raise IndexCorrupt(f"the search index has format {found!r}, not {FORMAT!r}")
    folder = info.get("folder")
    if not isinstance(folder, str) or not folder.startswith("v-") or "/" in folder:
        raise IndexCorrupt(f"the search index's {_CURRENT} file names no index folder")
    return path / folder


def _write_current(path: Path, folder: Path) -> None:
    data = json.dumps({"format": FORMAT, "folder": folder.name}) + "\n"
    write_atomic(path / _CURRENT, data.encode())


def _new_folder(path: Path) -> Path:
    folder = path / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    whoosh_index.FileIndex.create(FileStorage(str(folder)), build_schema(), INDEXNAME)
    return folder


def _remove_old_folders(path: Path, keep: Path, previous: Path | None) -> None:
    """Delete the previous index folder, and folders of builds abandoned over an hour ago
    (a build in progress keeps its folder's time recent).

    Readers that still have files open keep reading them (POSIX unlink semantics).
    """
    now = time.time()
    for child in path.iterdir():
        if not child.is_dir() or not child.name.startswith("v-") or child == keep:
            continue
        if child == previous or now - child.stat().st_mtime > _ABANDONED_AFTER:
            shutil.rmtree(child, ignore_errors=True)


def _open_whoosh(folder: Path, readonly: bool) -> Any:
    storage = FileStorage(str(folder), readonly=readonly)
    return whoosh_index.FileIndex(storage, indexname=INDEXNAME)


def open_index(path: Path, *, create: bool = False, readonly: bool = False) -> WhooshEngine:
    """Open the index at ``path`` (creating an empty one if ``create`` and there is none).

    Raises IndexMissing when there is none, IndexCorrupt when it cannot be read. A
    ``readonly`` engine never takes the writer's lock, so it works while another process
    writes; it sees their commits at its next search.
    """
    # Absolute: each search compares CURRENT's folder with the open one (a relative path
    # would never compare equal, and every search would reopen the index, caches lost).
    path = Path(path).absolute()
    if create and not readonly and not (path / _CURRENT).exists():
        path.mkdir(parents=True, exist_ok=True)
        folder = _new_folder(path)
        _write_current(path, folder)
    # A concurrent rebuild may swap folders between reading CURRENT and opening the
    # folder, or a commit may delete a segment file in between: read again.
    for attempt in range(3):
        folder = _read_current(path)
        try:
            return WhooshEngine(path, _open_whoosh(folder, readonly), readonly=readonly)
        except ConstanciaError:
            raise
        except Exception as e:  # Whoosh raises many kinds for a damaged index
            if attempt == 2 or not isinstance(e, FileNotFoundError | whoosh_index.EmptyIndexError):
                raise IndexCorrupt(f"the search index in {path} cannot be read ({e})") from e
            time.sleep(0.05)
    raise AssertionError("unreachable")


def build_index(
    path: Path, docs: Iterable[IndexDoc], *, progress: Callable[[int], None] | None = None
) -> int:
    """Build a new index of ``docs`` beside the live one, then swap it in atomically.

    Until the swap, readers use the old index; a crash leaves the old one in place (the
    abandoned folder is removed by the next build). Returns the number of documents.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    try:
        previous: Path | None = _read_current(path)
    except IndexCorrupt:
        previous = None
    folder = _new_folder(path)
    try:
        ix = _open_whoosh(folder, False)
        engine = WhooshEngine(path, ix, readonly=False)
        docs = iter(docs)
        first = list(itertools.islice(docs, PARALLEL_MIN_DOCS))
        workers = min(2, os.cpu_count() or 1)
        if len(first) < PARALLEL_MIN_DOCS or workers < 2:
            count = engine.add(first, progress=progress, bulk=True)
        else:
            count, again = build_parallel(
                ix, folder, itertools.chain(first, docs), workers=workers, progress=progress
            )
            if again:  # an ID that came twice: the later version replaces the first
                count += engine.add(again) - len({d.id for d in again})
        engine.close()
    except BuildFailed as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise IndexCorrupt(f"building the search index failed: {e}") from e
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _write_current(path, folder)
    _remove_old_folders(path, folder, previous)
    log.info("built a search index of %d documents in %s", count, folder)
    return count


class IndexFeed:
    """New documents analysed by worker processes while the caller goes on (an ingest
    staging and committing its batches), listed in the index in one commit at the end.

    The workers write segments into the live index folder, which readers ignore until
    :meth:`commit` lists them; :meth:`abort` (or a crash) leaves files the next commit
    removes. A feed adds documents and never replaces one: it is for IDs the index does not
    hold. Without a live index, ``create`` starts a new one, swapped in by the commit.
    """

    def __init__(
        self,
        path: Path,
        *,
        loader: Callable[[Any], IndexDoc | None],
        workers: int,
        per_segment: int,
        expected: int | None = None,
        create: bool = False,
    ) -> None:
        self.path = Path(path)
        self._new: Path | None = None
        try:
            folder = _read_current(self.path)
            self._ix = _open_whoosh(folder, False)
            self._ix.doc_count_all()  # fails now, not at the commit, if it cannot be read
        except IndexMissing:
            if not create:
                raise
            self.path.mkdir(parents=True, exist_ok=True)
            folder = self._new = _new_folder(self.path)
            self._ix = _open_whoosh(folder, False)
        except ConstanciaError:
            raise
        except Exception as e:
            raise IndexCorrupt(f"the search index in {self.path} cannot be read ({e})") from e
        self._build = ParallelBuild(
            self._ix,
            folder,
            workers=workers,
            per_segment=per_segment,
            loader=loader,
            expected=expected,
        )

    def send(self, items: Iterable[Any]) -> None:
        try:
            self._build.send(items)
        except BuildFailed as e:
            self.abort()
            raise IndexCorrupt(f"indexing failed: {e}") from e

    def commit(self, progress: Callable[[int], None] | None = None) -> int:
        """Wait for the workers, then commit their segments; returns the items handled."""

        def open_writer() -> Any:
            if progress is not None:
                progress(self._build.sent)
            return WhooshEngine(self.path, self._ix, readonly=False)._writer()

        try:
            count = self._build.commit(open_writer)
        except BuildFailed as e:
            self.abort()
            raise IndexCorrupt(f"indexing failed: {e}") from e
        except BaseException:
            self.abort()
            raise
        if self._new is not None:
            _write_current(self.path, self._new)
            _remove_old_folders(self.path, self._new, None)
        return count

    def abort(self) -> None:
        self._build.kill()
        if self._new is not None:
            shutil.rmtree(self._new, ignore_errors=True)


def index_is_current(path: Path, expected: dict[str, str]) -> list[str]:
    """Differences between the index at ``path`` and ``expected`` (ID → SHA-256 of the
    archive's artefacts), as plain sentences; empty when the index is current."""
    try:
        engine = open_index(path, readonly=True)
    except IndexCorrupt as e:
        return [e.message]
    try:
        found = engine.digests()
    except IndexCorrupt as e:
        return [e.message]
    finally:
        engine.close()
    drift: list[str] = []
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    changed = sorted(i for i in set(expected) & set(found) if expected[i] != found[i])
    for ids, what in (
        (missing, "in the archive but not in the index"),
        (extra, "in the index but not in the archive"),
        (changed, "indexed with another SHA-256 than the archive's"),
    ):
        if ids:
            sample = ", ".join(i[:12] for i in ids[:3]) + (", …" if len(ids) > 3 else "")
            drift.append(f"{len(ids)} artefact(s) {what}: {sample}")
    return drift


# -- the Whoosh engine ------------------------------------------------------------------------


def _merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for incremental adds: merge the small segments together once there are
    several, and never rewrite a large one (Whoosh's default may)."""
    from whoosh.reading import SegmentReader

    small = [s for s in segments if s.doc_count_all() < SMALL_SEGMENT]
    if len(small) < _MAX_SMALL_SEGMENTS:
        return segments
    for seg in small:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    return [s for s in segments if s not in small]


class WhooshEngine:
    """The :class:`SearchEngine` on a Whoosh index. One searcher per engine, reopened only
    when the index changed; per-searcher caches make repeated filters cheap."""

    def __init__(self, path: Path, ix: Any, *, readonly: bool) -> None:
        self.path = path
        self._ix = ix
        self._readonly = readonly
        self._searching: Searching | None = None
        self._words: dict[str, frozenset[str]] = {}  # segment ID → its words

    # writing

    def _writer(self, **kwargs: Any) -> Any:
        if self._readonly:
            raise ConstanciaError("this search index was opened read-only")
        try:
            writer = self._ix.writer(timeout=LOCK_TIMEOUT, delay=0.1, codec=new_codec(), **kwargs)
            return plain_small_blocks(writer)
        except LockError:
            raise IndexBusy(
                "another process is writing to the search index",
                hint="wait for it to finish and try again",
            ) from None

    def add(
        self,
        docs: Iterable[IndexDoc],
        *,
        progress: Callable[[int], None] | None = None,
        bulk: bool = False,
    ) -> int:
        """See SearchEngine.add. ``bulk`` (a new, empty index): no replacement checks, and
        documents are analysed in parallel processes when there are many."""
        writer = self._writer(limitmb=256)
        try:
            replace = not bulk and self._ix.doc_count_all() > 0
            count, again = add_serial(writer, docs, replace=replace, progress=progress)
            writer.commit(mergetype=_merge_small)
        except BaseException:
            writer.cancel()
            raise
        if again:
            # A later version of a document added in this call: replace it now.
            added = self.add(again, progress=None)
            count += added - len({d.id for d in again})
        return count

    def delete(self, ids: Iterable[str]) -> int:
        writer = self._writer()
        try:
            count = sum(int(writer.delete_by_term("id", i)) for i in ids)
            writer.commit(mergetype=_merge_small)
        except BaseException:
            writer.cancel()
            raise
        return count

    # reading

    def _follow_rebuild(self) -> None:
        """Switch to the folder CURRENT names, if a rebuild swapped in a new one."""
        folder = _read_current(self.path)
        if Path(self._ix.storage.folder) != folder:
            self._ix = _open_whoosh(folder, self._readonly)
            if self._searching is not None:
                self._searching.close()
                self._searching = None

    def _current(self) -> Searching:
        """The searcher over the latest commit (opened once, refreshed after changes)."""
        from index.searching import Searching

        try:
            self._follow_rebuild()
            if self._searching is None:
                self._searching = Searching(self._ix.searcher(), self._folder(), self._words)
            elif not self._searching.searcher.up_to_date():
                # Not Searcher.refresh(): it reuses segment readers with their old deletions.
                stale = self._searching
                self._searching = Searching(self._ix.searcher(), self._folder(), self._words)
                stale.close()
        except ConstanciaError:
            raise
        except Exception as e:
            raise IndexCorrupt(f"the search index in {self.path} cannot be read ({e})") from e
        return self._searching

    def search(self, q: SearchQuery) -> SearchResults:
        searching = self._current()
        try:
            return searching.run(q)
        except ConstanciaError:
            raise
        except Exception as e:  # a damaged posting list shows only when it is read
            raise IndexCorrupt(f"the search index in {self.path} cannot be read ({e})") from e

    def digests(self) -> dict[str, str]:
        searching = self._current()
        try:
            return dict(searching.digests())
        except Exception as e:
            raise IndexCorrupt(f"the search index in {self.path} cannot be read ({e})") from e

    def doc_count(self) -> int:
        return int(self._current().searcher.doc_count())

    def _folder(self) -> Path:
        return Path(self._ix.storage.folder)

    def close(self) -> None:
        if self._searching is not None:
            self._searching.close()
            self._searching = None
