"""Writing an import into the receiving archive, for a source already read and checked.

Called holding the archive's lock, after :meth:`Archive.recover`. The order of work is the
ingest pipeline's, so that a kill at any moment leaves the archive valid and a rerun completes
it:

1. the source's custody history is staged in ``tmp/`` and moved under
   ``custody/sources/<origin>/<N>/`` (write-once: a file already there must hold the same bytes);
2. the source's signers' keys are registered, each with a ``key-registered`` event;
3. each new artefact is staged whole in ``tmp/obj-<id>`` with every source record version; an
   artefact already kept gets the source's new record versions staged in ``tmp/rev-<id>``. Every
   byte is re-hashed while it is copied. Per batch: ``syncfs``, append the batch's ``import``
   events, then install (rename objects into place; rename new version folders in and replace
   the root inventory). After a crash, :meth:`Archive.recover` completes or removes them;
4. one ``imported`` event for the run, and a checkpoint.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from archive import faults, ocfl
from archive.custody_log import LogWriter, read_lines, utc_now
from archive.findings import Code, Finding
from archive.fsutil import write_file
from archive.hashing import Digests, copy_and_hash, fd_writer
from archive.identity import Signer
from archive.import_history import install_history, source_changed
from archive.import_pending import (
    Work,
    pending_artefacts,
    pending_history,
    pending_keys,
    unfinished_run,
)
from archive.import_report import ImportReport, NoProgress, Outcome, Progress
from archive.import_revision import BASE, install_revision
from archive.import_source import (
    SourceArtefact,
    SourceFile,
    SourcePlan,
    SourceRefused,
    SourceVersion,
    open_regular,
)
from archive.store import REVISION_PREFIX, STAGE_PREFIX, Archive, object_id_for
from artefacts.record import parse_record
from constancia.errors import FormatError, StorageError

BATCH_FILES = 500
BATCH_BYTES = 256 << 20
#: The first batch is smaller: the search index is fed each batch once it is committed, so
#: its worker processes wait idle until the first commit (~1.5 s of 500 artefacts).
FIRST_BATCH_FILES = 100
#: One staging thread beside the main one (which signs events and commits). More were
#: slower here: creating files is kernel CPU work, not waiting, and threads contending for
#: the GIL cost a fifth of the CPU (10,000 artefacts: 4 threads 28.7 CPU-s, 1 thread 20.4).
_THREADS = 1
#: Files up to this size are read whole (one read, one write); larger ones are streamed.
_SMALL = 1 << 20


#: (kind, artefact, staged folder, import event details, time)
_Staged = tuple[str, str, Path, list[dict[str, Any]], str]


def write_import(
    archive: Archive,
    signer: Signer,
    plan: SourcePlan,
    *,
    accepted: str | None = None,
    progress: Progress | None = None,
    on_commit: Callable[[list[str], list[str]], None] | None = None,
) -> ImportReport:
    """Take in what the plan holds that the archive lacks. Hold the lock; recover first.
    ``on_commit(new, revised)`` is told the artefacts of each batch once it is committed.

    Nothing is written when nothing is new: no event, no checkpoint. A run killed before
    its ``imported`` event is completed by the next one, which records it."""
    writer = archive.log_writer()
    log_lines = read_lines(archive.log_path).lines
    work, outcomes = pending_artefacts(archive, plan)
    history = pending_history(archive, plan)
    keys = pending_keys(plan, log_lines)
    report = ImportReport(plan, outcomes, accepted=accepted)
    report.resumed = unfinished_run(log_lines, plan)
    if not work and not history and not keys and not report.resumed:
        # A rerun after a kill may find everything in place but the log not yet signed.
        checkpoint = writer.checkpoint_if_needed(signer)
        report.checkpoint_size = checkpoint.size if checkpoint else None
        return report
    archive.tmp.mkdir(exist_ok=True)
    run = _Run(archive, signer, writer, plan, progress or NoProgress(), on_commit)
    run.progress.start(len(work), sum(_bytes(v) for _, vs, _ in work for v in vs))
    try:
        if history:
            install_history(archive, plan, history)
            report.history = plan.history_rel
        for ident in keys:
            archive.register_key(ident)
            writer.add(
                signer,
                "key-registered",
                None,
                {
                    "fingerprint": ident.fingerprint,
                    "key": ident.public_line,
                    "path": f"keys/{ident.key_file_stem}.pub",
                    "role": "imported-signer",
                    "from": plan.origin,
                },
            )
            report.keys.append(ident.fingerprint)
        # A staging thread overlaps the kernel's file creation with this thread's signing
        # and committing (the GIL is released in system calls). Events are queued in order.
        with ThreadPoolExecutor(_THREADS, thread_name_prefix="constancia-import") as pool:
            for batch in _batches(work):
                run.stage_batch(pool, batch)
                run.commit()
        writer.add(signer, "imported", None, report.event_details(run.events))
    finally:
        # Whatever was completely staged is committed and covered by the checkpoint.
        run.commit()
        faults.point("before-checkpoint")
        checkpoint = writer.checkpoint_if_needed(signer)
    report.checkpoint_size = checkpoint.size if checkpoint else None
    return report


def _bytes(version: SourceVersion) -> int:
    return sum(f.size for f in version.files.values())


def _batches(work: list[Work]) -> Iterator[list[Work]]:
    """Up to BATCH_FILES artefacts (FIRST_BATCH_FILES at first) or BATCH_BYTES bytes: what
    one syncfs makes durable."""
    batch: list[Work] = []
    size = 0
    limit = FIRST_BATCH_FILES
    for item in work:
        batch.append(item)
        size += sum(_bytes(v) for v in item[1])
        if len(batch) >= limit or size >= BATCH_BYTES:
            yield batch
            batch, size, limit = [], 0, BATCH_FILES
    if batch:
        yield batch


class _Run:
    def __init__(
        self,
        archive: Archive,
        signer: Signer,
        writer: LogWriter,
        plan: SourcePlan,
        progress: Progress,
        on_commit: Callable[[list[str], list[str]], None] | None = None,
    ) -> None:
        self.archive = archive
        self.on_commit = on_commit
        self.signer = signer
        self.writer = writer
        self.plan = plan
        self.progress = progress
        self.staged: list[tuple[str, str, Path]] = []  # (kind, artefact, staged folder)
        self.lock = threading.Lock()
        self.events = 0
        ident = signer.identity
        self.user = ident.name
        self.address = f"urn:constancia:key:{quote(ident.fingerprint, safe='')}"
        self.source = plan.source_json()
        # Folders known to exist: creating files and folders is most of an import's time on
        # a slow disk, so no mkdir is made twice (nor any that would fail).
        self.folders: set[Path] = {archive.tmp, archive.objects}
        self.records: dict[str, bytes] = {}  # sha512 -> bytes of the records copied (small)

    # ---- staging --------------------------------------------------------------------------

    def stage_batch(self, pool: ThreadPoolExecutor, batch: list[Work]) -> None:
        """Stage every artefact of the batch; queue the events of each one staged whole, in
        order. A failure is raised once the others are done (they are kept)."""
        futures = [
            pool.submit(self.stage_new if o.status == "new" else self.stage_revision, a, v, o)
            for a, v, o in batch
        ]
        error: BaseException | None = None
        for future, (_, _, outcome) in zip(futures, batch, strict=True):
            try:
                staged = future.result()
            except BaseException as e:
                error = error or e
                continue
            kind, art, folder, events, now = staged
            # Queued only once the whole object is staged: an event never names half of one.
            for details in events:
                self.writer.add(self.signer, "import", art, details, time=now)
                self.events += 1
            self.staged.append((kind, art, folder))
            self.progress.done(outcome)
        if error is not None:
            raise error

    def stage_new(
        self, art: SourceArtefact, versions: list[SourceVersion], outcome: Outcome
    ) -> _Staged:
        folder = self.archive.tmp / f"{STAGE_PREFIX}{art.id}"
        stored: dict[str, tuple[Path, Digests]] = {}
        events = []
        now = utc_now()
        try:
            for n, ver in enumerate(versions, start=1):
                content = folder / f"v{n}" / "content"
                entries = []
                for logical in sorted(ver.files):
                    sf = ver.files[logical]
                    if n == 1 or sf.sha512 not in stored:
                        dst = content / logical
                        stored.setdefault(sf.sha512, (dst, self._copy(sf, dst)))
                    entries.append(ocfl.FileEntry(logical, sf.sha512, sf.sha256))
                details = self._record_event(art.id, ver, n, stored)
                kw = {"created": now, "user_name": self.user, "user_address": self.address}
                message = f"import of {details['name']} from {self.plan.origin or self.plan.path}"
                if n == 1:
                    oid = object_id_for(art.id)
                    # The content was copied just above, into a folder of this run's own.
                    ocfl.write_new_object(
                        folder,
                        oid,
                        entries,
                        message=message,
                        fsync=False,
                        check_content=False,
                        **kw,
                    )
                else:
                    ocfl.add_version(folder, entries, message=message, fsync=False, **kw)
                events.append(details)
                outcome.versions.append(n)
                outcome.name = details["name"]
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return ("new", art.id, folder, events, now)

    def stage_revision(
        self, art: SourceArtefact, versions: list[SourceVersion], outcome: Outcome
    ) -> _Staged:
        """New versions of a kept object, staged beside it: the original is never touched."""
        folder = self.archive.object_dir(art.id)
        stage = self.archive.tmp / f"{REVISION_PREFIX}{art.id}"
        now = utc_now()
        events = []
        try:
            stage.mkdir()
            for name in (ocfl.INVENTORY, ocfl.SIDECAR):
                write_file(stage / name, (folder / name).read_bytes(), fsync=False)
            inv = ocfl.read_inventory(stage, strict=True)
            base = ocfl.head_number(inv)
            write_file(stage / BASE, str(base).encode(), fsync=False)
            kept = {d: folder / paths[0] for d, paths in inv["manifest"].items()}
            stored: dict[str, tuple[Path, Digests]] = {}
            for i, ver in enumerate(versions):
                n = base + 1 + i
                entries = []
                for logical in sorted(ver.files):
                    sf = ver.files[logical]
                    if sf.sha512 not in kept and sf.sha512 not in stored:
                        dst = stage / f"v{n}" / "content" / logical
                        stored[sf.sha512] = (dst, self._copy(sf, dst))
                    entries.append(ocfl.FileEntry(logical, sf.sha512, sf.sha256))
                known: dict[str, tuple[Path, Digests | None]] = {
                    d: (p, None) for d, p in kept.items()
                }
                known.update(stored)
                details = self._record_event(art.id, ver, n, known)
                ocfl.add_version(
                    stage,
                    entries,
                    created=now,
                    message=f"import of another record from {self.plan.origin or self.plan.path}",
                    user_name=self.user,
                    user_address=self.address,
                    fsync=False,
                )
                events.append(details)
                outcome.versions.append(n)
                outcome.name = details["name"]
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return ("revision", art.id, stage, events, now)

    def _record_event(
        self,
        art: str,
        ver: SourceVersion,
        n: int,
        stored: Mapping[str, tuple[Path, Digests | None]],
    ) -> dict[str, Any]:
        """Check the version's record against the bytes copied; the import event's details.
        One event per record version: every record the archive keeps is named by an event of
        its own log (verify links an object to its first; a package checker looks for the
        exported record among them)."""
        rsf = ver.files["record.json"]
        data = self.records.pop(rsf.sha512, None) or stored[rsf.sha512][0].read_bytes()
        try:
            record = parse_record(data)
            original = record["original"]
            osf = ver.files.get(original["path"])
            copied = stored.get(osf.sha512) if osf is not None else None
            size = copied[1].size if copied is not None and copied[1] is not None else None
            sound = (
                record["id"] == art
                and original["sha256"] == art
                and osf is not None
                and (osf.sha256, osf.sha512) == (original["sha256"], original["sha512"])
                and size in (None, original.get("size"))
            )
        except (FormatError, KeyError, TypeError) as e:
            raise SourceRefused(
                f"a record of artefact {art[:16]} cannot be read ({e})",
                [Finding(Code.RECORD_INVALID, str(e), id=art, path=rsf.path)],
                path=self.plan.path,
            ) from None
        if not sound:
            raise SourceRefused(
                f"the original of artefact {art[:16]} differs from its record",
                [Finding(Code.RECORD_DIGEST_MISMATCH, "original vs record", id=art)],
                path=self.plan.path,
                hint="nothing of this artefact was written; ask for an intact copy",
            )
        return {
            "record": {"version": n, "sha256": rsf.sha256},
            "sha256": original["sha256"],
            "sha512": original["sha512"],
            "size": original.get("size"),
            "name": original.get("name"),
            "source": {**self.source, "record_version": ver.number},
        }

    def mkdir(self, folder: Path) -> None:
        if folder in self.folders or folder.parent == folder:
            return
        if folder.parent not in self.folders:
            self.mkdir(folder.parent)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
        self.folders.add(folder)

    def _copy(self, sf: SourceFile, dst: Path) -> Digests:
        """Copy one file, hashing every byte; refuse it unless it hashes as planned."""
        self.mkdir(dst.parent)
        try:
            src = open_regular(sf.path)
        except OSError:
            raise source_changed(self.plan, sf.path, "a file") from None
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with src:
                if sf.size < _SMALL:
                    data = src.read(_SMALL)
                    write_file_fd(out, data)
                    got = Digests.of(data)
                    if dst.name == "record.json":
                        self.records[got.sha512] = data
                    self._advance(len(data))
                else:
                    got = copy_and_hash(src, fd_writer(out), progress=self._advance)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageError(
                    "the disk is full; what was imported so far is kept",
                    hint="free some space and run the same import again",
                ) from e
            raise
        finally:
            os.close(out)
        if (got.sha512, got.sha256) != (sf.sha512, sf.sha256):
            raise source_changed(self.plan, sf.path, "a file")
        return got

    def _advance(self, nbytes: int) -> None:
        with self.lock:  # staging threads share one progress bar
            self.progress.advance(nbytes)

    # ---- committing -----------------------------------------------------------------------

    def commit(self) -> None:
        """Staged bytes durable, then the events, then the installs."""
        self.archive.commit_batch(
            self.writer, [functools.partial(self._install, *s) for s in self.staged]
        )
        if self.on_commit is not None and self.staged:
            self.on_commit(
                [a for kind, a, _ in self.staged if kind == "new"],
                [a for kind, a, _ in self.staged if kind != "new"],
            )
        self.staged.clear()

    def _install(self, kind: str, art: str, folder: Path) -> None:
        if kind == "new":
            self.archive.install_staged(folder, art)  # it makes the n-tuple folders
        else:
            install_revision(self.archive, folder, art)


def write_file_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
