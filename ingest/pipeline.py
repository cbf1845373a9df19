"""The ingest pipeline: files on disk become archived, signed artefacts with a custody trail.

For each file: stream it once (SHA-256 and SHA-512 while copying into a staging folder inside
the archive), build its OCFL object there with the signed record, and queue a signed custody
event. Per batch: flush the staged bytes to disk, append the batch's events to the log (fsync),
then rename the staged objects into the storage root. A crash before the events are appended
leaves only staging leftovers (removed later); a crash after leaves staged objects whose
events exist (moved into place later): either way nothing half-ingested is ever visible.
One checkpoint is signed at the end of the run.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import secrets
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from archive import faults, ocfl
from archive.custody_log import LogWriter, canonical, parse_event, read_lines, utc_now
from archive.fsutil import write_file
from archive.hashing import copy_and_hash, fd_writer, sha256_hex
from archive.identity import Signer
from archive.store import STAGE_PREFIX, Archive, object_id_for
from artefacts.handlers import extract_technical
from artefacts.media import detect_media_type
from artefacts.metadata import guess_kind, load_sidecar, merge_metadata
from artefacts.record import RECORD_NAMESPACE, build_record, record_bytes
from constancia import __version__
from constancia.errors import ConstanciaError, FormatError, MetadataError, StorageError
from index.documents import doc_from_record
from ingest.derived import write_derived
from ingest.indexing import RunIndexer
from ingest.walk import Candidate, Skipped, collect, display

log = logging.getLogger(__name__)

BATCH_FILES = 500
BATCH_BYTES = 256 << 20


@dataclass
class FileResult:
    """What happened to one input: ``ingested``, ``duplicate``, ``rejected`` or ``skipped``."""

    source: str
    status: str
    id: str | None = None
    sha256: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    recorded: bool = True  # False: an identical earlier arrival was already in the log

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "id": self.id,
            "sha256": self.sha256,
            "status": self.status,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.warnings:
            out["warnings"] = self.warnings
        if self.status == "duplicate":
            out["recorded"] = self.recorded
        return out


@dataclass
class IngestReport:
    results: list[FileResult]
    notes: list[str]
    checkpoint_size: int | None

    @property
    def ok(self) -> bool:
        return all(r.status in ("ingested", "duplicate") for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


class Progress(Protocol):
    def start(self, files: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def done(self, result: FileResult) -> None: ...


class _NoProgress:
    def start(self, files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def done(self, result: FileResult) -> None:
        pass


def _error_text(e: ConstanciaError) -> str:
    text = str(e)
    return f"{text}; {e.hint}" if e.hint else text


@dataclass
class _Staged:
    artefact_id: str
    folder: Path


class _Run:
    """One ingest run, holding the archive lock."""

    def __init__(
        self,
        archive: Archive,
        signer: Signer,
        writer: LogWriter,
        *,
        indexer: RunIndexer,
        ocr: bool = True,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.archive = archive
        # How the files came (e.g. the BagIt bag they were imported from): kept as "via".
        self.via = {"via": provenance} if provenance is not None else {}
        self.signer = signer
        self.writer = writer
        self.host = socket.gethostname()
        self.staged: list[_Staged] = []
        self.staged_ids: set[str] = set()
        self.arrivals = _known_arrivals(archive)
        self.ocr = ocr
        self.indexer = indexer
        archive.tmp.mkdir(exist_ok=True)

    def ingest_file(
        self, cand: Candidate, base_meta: dict[str, Any], advance: Callable[[int], None]
    ) -> FileResult:
        source = display(cand.path)
        warnings: list[str] = []
        side: dict[str, Any] = {}
        if cand.sidecar is not None:
            try:
                side, warnings = load_sidecar(cand.sidecar)
            except MetadataError as e:
                return FileResult(source, "rejected", error=_error_text(e))
        meta = merge_metadata(base_meta, side)
        try:
            fd = os.open(cand.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            return FileResult(source, "rejected", error=f"{source}: cannot be read ({e.strerror})")
        tmp = self.archive.tmp / f"in-{secrets.token_hex(8)}"
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return FileResult(source, "rejected", error=f"{source}: is not a regular file")
            digests = self._copy(fd, tmp, source, advance)
        except _ReadError as e:
            return FileResult(source, "rejected", error=str(e))
        finally:
            os.close(fd)
        artefact = digests.sha256
        name_bytes = os.fsencode(cand.path.name)
        name = name_bytes.decode("utf-8", "replace")
        meta_sha = sha256_hex(canonical(meta))
        arrival = (artefact, source, name, meta_sha)
        if artefact in self.staged_ids or self.archive.has_artefact(artefact):
            tmp.unlink()
            recorded = arrival not in self.arrivals
            if recorded:
                self.writer.add(
                    self.signer,
                    "duplicate-received",
                    artefact,
                    {
                        "source": source,
                        "host": self.host,
                        "name": name,
                        "metadata": meta,
                        "metadata_sha256": meta_sha,
                        **self.via,
                    },
                )
                self.arrivals.add(arrival)
            return FileResult(
                source, "duplicate", artefact, artefact, warnings=warnings, recorded=recorded
            )
        try:
            self._stage_object(cand, tmp, digests, name, name_bytes, meta, meta_sha, warnings)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.arrivals.add(arrival)
        return FileResult(source, "ingested", artefact, artefact, warnings=warnings)

    def _copy(self, fd: int, tmp: Path, source: str, advance: Callable[[int], None]) -> Any:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        write = fd_writer(out, after_chunk=functools.partial(faults.point, "mid-copy"))
        try:
            with os.fdopen(os.dup(fd), "rb", buffering=0) as src:
                return copy_and_hash(src, write, progress=advance)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if not write.writing:
                raise _ReadError(f"{source}: cannot be read ({e.strerror})") from e
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageError(
                    f"the disk is full: {source} could not be copied into the archive; "
                    "nothing of it was kept",
                    hint="free some space and run the same ingest again; files already "
                    "ingested will be recognised",
                ) from e
            raise StorageError(f"could not write into the archive ({e.strerror})") from e
        finally:
            os.close(out)

    def _stage_object(
        self,
        cand: Candidate,
        tmp: Path,
        digests: Any,
        name: str,
        name_bytes: bytes,
        meta: dict[str, Any],
        meta_sha: str,
        warnings: list[str],
    ) -> None:
        artefact = digests.sha256
        folder = self.archive.tmp / f"{STAGE_PREFIX}{artefact}"
        logical = "original/" + ocfl.safe_logical_name(os.fsdecode(cand.path.name))
        content = folder / ocfl.content_path(1, logical)
        # One mkdir per level (pathlib's parents=True first fails at the deepest one).
        for level in (folder, folder / "v1", content.parent.parent, content.parent):
            os.mkdir(level)
        os.rename(tmp, content)
        with open(content, "rb") as f:
            head = f.read(8192)
        media_type = detect_media_type(content, head)
        technical = extract_technical(content, media_type)
        derived = write_derived(
            folder / "v1" / "content",
            content,
            media_type,
            transcript=cand.transcript,
            ocr=self.ocr,
            # A declared language is the one the index uses: guessing it would cost a tenth
            # of the ingest of a small text (a regex pass over every word).
            guess_language=not meta.get("language"),
        )
        ident = self.signer.identity
        now = utc_now()
        name_hex = None
        try:
            name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            name_hex = name_bytes.hex()
            warnings = [*warnings, "the file name is not valid UTF-8; its bytes are kept as hex"]
        record = build_record(
            artefact_id=artefact,
            version=1,
            sha256=digests.sha256,
            sha512=digests.sha512,
            size=digests.size,
            original_name=name,
            original_name_hex=name_hex,
            logical_path=logical,
            media_type=media_type,
            kind=str(meta.get("kind") or guess_kind(media_type)),
            metadata=meta,
            technical=technical,
            ingested={
                "by": {"name": ident.name, "key": ident.fingerprint},
                "at": now,
                "host": self.host,
                "source": display(cand.path),
                "tool": f"constancia {__version__}",
                **self.via,
            },
            warnings=warnings,
            derived=derived.info,
        )
        rbytes = record_bytes(record)
        sig = self.signer.sign_sshsig(rbytes, RECORD_NAMESPACE).encode("ascii")
        vcontent = folder / "v1" / "content"
        write_file(vcontent / "record.json", rbytes, fsync=False)
        write_file(vcontent / "record.json.sig", sig, fsync=False)
        rsha = sha256_hex(rbytes)
        ocfl.write_new_object(
            folder,
            object_id_for(artefact),
            [
                ocfl.FileEntry(logical, digests.sha512, digests.sha256),
                ocfl.FileEntry("record.json", _sha512(rbytes), rsha),
                ocfl.FileEntry("record.json.sig", _sha512(sig), sha256_hex(sig)),
                *derived.entries,
            ],
            created=now,
            message=f"ingest of {name}",
            user_name=ident.name,
            user_address=f"urn:constancia:key:{quote(ident.fingerprint, safe='')}",
            fsync=False,
            check_content=False,  # every file of the folder was written just above
        )
        self.writer.add(
            self.signer,
            "ingest",
            artefact,
            {
                "source": display(cand.path),
                "host": self.host,
                "name": name,
                "size": digests.size,
                "sha256": digests.sha256,
                "sha512": digests.sha512,
                "media_type": media_type,
                "metadata_sha256": meta_sha,
                "record": {"version": 1, "sha256": rsha},
                **self.via,
            },
            time=now,
        )
        self.staged.append(_Staged(artefact, folder))
        self.indexer.staged(functools.partial(doc_from_record, record, derived.text), artefact)
        self.staged_ids.add(artefact)

    def commit_batch(self) -> None:
        """Make the batch durable: staged bytes, then the events, then the renames."""
        self.archive.commit_batch(
            self.writer,
            [
                functools.partial(self.archive.install_staged, s.folder, s.artefact_id)
                for s in self.staged
            ],
        )
        if self.staged:
            self.indexer.committed([s.artefact_id for s in self.staged])
        self.staged.clear()
        self.staged_ids.clear()


class _ReadError(Exception):
    pass


def _sha512(data: bytes) -> str:
    import hashlib

    return hashlib.sha512(data).hexdigest()


def _known_arrivals(archive: Archive) -> set[tuple[str, str, str, str]]:
    """(artefact, source, name, metadata digest) of every arrival already in the log."""
    seen = set()
    for line in read_lines(archive.log_path).lines:
        if b'"action":"ingest"' not in line and b'"action":"duplicate-received"' not in line:
            continue
        try:
            ev = parse_event(line)
        except FormatError:
            continue
        d = ev["details"]
        seen.add(
            (
                str(ev["artefact"]),
                str(d.get("source")),
                str(d.get("name")),
                str(d.get("metadata_sha256")),
            )
        )
    return seen


def ingest_paths(
    archive: Archive,
    signer: Signer,
    inputs: list[Path],
    *,
    meta: dict[str, Any] | None = None,
    include_hidden: bool = False,
    progress: Progress | None = None,
    wait: float = 60.0,
    on_wait: Callable[[str], None] | None = None,
    ocr: bool = True,
    index_progress: Any = None,
    provenance: dict[str, Any] | None = None,
    index: bool = True,
) -> IngestReport:
    """Ingest files and folders; one checkpoint at the end. ``meta`` applies to every file
    (a file's own sidecar overrides it key by key). ``provenance`` (how the files came, e.g.
    ``{"bag": ...}`` for an imported BagIt bag) is kept as ``via`` in each record's
    ``ingested`` block and in each arrival event. ``index=False`` leaves the search index
    for later (the next search brings it up to date)."""
    progress = progress or _NoProgress()
    items = collect(inputs, archive_root=archive.root, include_hidden=include_hidden)
    candidates = [i for i in items if isinstance(i, Candidate)]
    total = 0
    for c in candidates:
        with contextlib.suppress(OSError):
            total += c.path.lstat().st_size
    results: list[FileResult] = []
    with archive.lock(wait=wait, on_wait=on_wait):
        notes = archive.recover()
        writer = archive.log_writer()
        indexer = RunIndexer(archive, len(candidates), enabled=index)
        run = _Run(archive, signer, writer, indexer=indexer, ocr=ocr, provenance=provenance)
        progress.start(len(candidates), total)
        batch_bytes = 0
        try:
            try:
                for item in items:
                    if isinstance(item, Skipped):
                        where = display(item.path)
                        results.append(
                            FileResult(where, item.status, error=f"{where}: {item.reason}")
                        )
                        continue
                    result = run.ingest_file(item, meta or {}, progress.advance)
                    results.append(result)
                    progress.done(result)
                    if result.status == "ingested":
                        batch_bytes += item.path.lstat().st_size
                    if len(run.staged) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                        run.commit_batch()
                        batch_bytes = 0
            finally:
                # Whatever happened, what was completely staged is committed and covered.
                run.commit_batch()
                faults.point("before-checkpoint")
                checkpoint = writer.checkpoint_if_needed(signer)
        except BaseException:
            indexer.abort()
            raise
        notes += indexer.finish_run(index_progress)
    return IngestReport(results, notes, checkpoint.size if checkpoint else None)
