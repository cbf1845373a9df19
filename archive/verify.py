"""Verification: fixity, OCFL inventories, signed records, and their custody trail.

Only reads: it works on a copy on read-only media, needs no key, and never stops at the first
problem. Every problem is a :class:`Finding` with a stable code. The custody log and the
checkpoints are checked in :mod:`archive.verify_log`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive import hashing, ocfl, ocfl_check, sshsig
from archive.findings import Code, Finding
from archive.identity import Identity
from archive.store import STAGE_PREFIX, Archive, artefact_of, object_id_for
from archive.verify_log import LogState, VerifyReport, check_keys, check_log
from archive.verify_sources import check_sources
from artefacts.record import RECORD_NAMESPACE, parse_record
from constancia.errors import ConstanciaError, FormatError, SignatureError

log = logging.getLogger(__name__)

__all__ = ["LogState", "VerifyReport", "check_keys", "check_log", "verify_archive"]


#: Below this many artefacts, starting worker processes costs more than it saves.
PARALLEL_MIN = 1000
#: A storage root with this many first-level folders holds about as many objects or more
#: (objects spread over 4,096 of them): enough for worker processes.
_MANY_TOPS = 800


def verify_archive(
    archive: Archive,
    ids: Iterable[str] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Check everything (or only the artefacts ``ids``, plus the log and checkpoints).

    With ``workers`` > 1 (the default for large archives on a machine with several cores),
    objects are checked in worker processes while this one checks the custody log: hashing
    and signature checks are CPU-bound, and threads would share one core.
    """
    report = VerifyReport()
    keys = check_keys(archive, report.problems)
    selected = sorted(ids) if ids is not None else None
    tops = _top_folders(archive) if selected is None else []
    if workers is None:
        many = len(selected) >= PARALLEL_MIN if selected is not None else len(tops) >= _MANY_TOPS
        workers = 2 if many and (os.cpu_count() or 1) > 1 else 1
    checked = None
    present: set[str] | None = None
    if selected is not None:
        present = {a for a in selected if archive.has_artefact(a)}
        if workers > 1:
            checked = _start_workers(archive, sorted(present), keys, workers)
    elif workers > 1:
        # The workers also list the storage root, each its share of the first-level folders.
        checked = _start_workers(archive, [], keys, workers, tops)
    else:
        present = set(archive.artefact_ids())
    try:
        state = check_log(archive, keys, report)
        if (archive.custody / "timestamps").is_dir():
            # Only then: its X.509 machinery is a tenth of the command's start-up.
            from archive.timestamp_verify import check_timestamps

            check_timestamps(archive, report.problems)
        check_sources(archive, report.problems)
        check_staging(archive, state, report.problems, selected)
        results = checked.collect() if checked is not None else None
    finally:
        if checked is not None:
            checked.pool.shutdown(cancel_futures=True)
    if present is None:
        present = set(results or ())
    wanted = selected if selected is not None else sorted(present)
    check_objects(archive, keys, state, report, present, wanted, selected, progress, results)
    return report


def _top_folders(archive: Archive) -> list[str]:
    """The first-level folders of the storage root's n-tuple tree (``extensions`` aside)."""
    try:
        with os.scandir(archive.objects) as it:
            return sorted(
                e.name for e in it if e.is_dir(follow_symlinks=False) and e.name != "extensions"
            )
    except OSError:
        return []


@dataclass
class _Workers:
    pool: ProcessPoolExecutor
    futures: list[Future[dict[str, list[Finding | _LogLink]]]]

    def collect(self) -> dict[str, list[Finding | _LogLink]]:
        out: dict[str, list[Finding | _LogLink]] = {}
        for f in self.futures:
            out.update(f.result())
        return out


@dataclass(frozen=True)
class _LogLink:
    """Where a worker, which does not read the custody log, leaves a check against it for
    the parent to make: is the artefact in the log (``record_sha256`` None), and is its v1
    record the one the arrival event names. Kept in place, so findings keep their order."""

    path: str
    record_sha256: str | None = None
    version_1: bool = False

    def findings(self, art: str, ingest: dict[str, Any] | None) -> list[Finding]:
        if not self.version_1:
            if ingest is None:
                return [
                    Finding(
                        Code.ARTEFACT_NOT_IN_LOG,
                        "no ingest event in the custody log",
                        id=art,
                        path=self.path,
                    )
                ]
            return []
        if ingest is None:
            return []
        want = ingest["details"].get("record", {}).get("sha256")
        if self.record_sha256 is None or self.record_sha256 != want:
            return [
                Finding(
                    Code.EVENT_RECORD_MISMATCH,
                    "the record differs from the one the ingest event names",
                    id=art,
                    path=self.path,
                )
            ]
        return []


def _start_workers(
    archive: Archive,
    wanted: list[str],
    keys: dict[str, Identity],
    workers: int,
    tops: list[str] | None = None,
) -> _Workers:
    """Check ``wanted`` in worker processes, or (``tops``) every object under those
    first-level folders of the storage root."""
    # Forked workers start at once and need no re-import; no thread of ours may be running
    # when they are made, so the hashing threads are stopped first.
    hashing.shutdown_pool()
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    # Many small chunks: the processes finish together (a chunk is a tenth of a second).
    n = workers * 16
    items = tops if tops is not None else wanted
    chunks = [items[i::n] for i in range(n) if items[i::n]]
    listing = tops is not None
    futures = [pool.submit(_check_chunk, archive.root, c, keys, listing) for c in chunks]
    return _Workers(pool, futures)


def _exit_with_parent(parent: int) -> None:
    """Worker process: end when ``parent`` is gone. A forked worker holds the write end of
    its own job queue, so a killed parent never shows as end of file: it would wait forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="constancia-parent-watch", daemon=True).start()


#: Seconds between a worker's checks that its parent still runs.
_PARENT_POLL = 0.5


def _check_chunk(
    root: Path, items: list[str], keys: dict[str, Identity], listing: bool = False
) -> dict[str, list[Finding | _LogLink]]:
    """Worker process: check these objects (or, ``listing``, every object under these
    first-level folders); findings by artefact, with the checks against the custody log
    left for the parent (which reads the log meanwhile)."""
    archive = Archive.open(root)
    ids = items
    if listing:
        folders = (archive.objects / top for top in items)
        ids = [
            a for f in folders for d in ocfl.list_object_dirs(f, top=False) if (a := artefact_of(d))
        ]
    out: dict[str, list[Finding | _LogLink]] = {}
    for art in ids:
        found: list[Finding | _LogLink] = []
        check_artefact(archive, art, keys, None, found)
        out[art] = found
    return out


def check_staging(
    archive: Archive, state: LogState, problems: list[Finding], selected: list[str] | None
) -> None:
    """Leftovers of an interrupted ingest: reported as recoverable."""
    if not archive.tmp.is_dir():
        return
    for entry in sorted(archive.tmp.iterdir()):
        art = entry.name[len(STAGE_PREFIX) :] if entry.name.startswith(STAGE_PREFIX) else None
        if selected is not None and art not in selected:
            continue
        done = "finishes" if art in state.ingests else "removes"
        problems.append(
            Finding(
                Code.INCOMPLETE_INGEST,
                f"an interrupted ingest left {entry.name}; the next writing command {done} it",
                id=art,
                path=f"tmp/{entry.name}",
            )
        )


def check_objects(
    archive: Archive,
    keys: dict[str, Identity],
    state: LogState,
    report: VerifyReport,
    present: set[str],
    wanted: list[str],
    selected: list[str] | None,
    progress: Callable[[int, int], None] | None,
    results: dict[str, list[Finding | _LogLink]] | None = None,
) -> None:
    """Every wanted object, in order; ``results`` holds findings already made by workers."""
    problems = report.problems
    staged = (
        {e.name[len(STAGE_PREFIX) :] for e in archive.tmp.iterdir()}
        if archive.tmp.is_dir()
        else set()
    )
    if selected is None:
        for art in sorted(set(state.ingests) - present - staged):
            problems.append(
                Finding(
                    Code.ARTEFACT_MISSING,
                    "the custody log records its ingest but the archive has no such object",
                    id=art,
                    path=archive.object_rel(art),
                )
            )
    for i, art in enumerate(wanted):
        if progress is not None:
            progress(i, len(wanted))
        if art not in present:
            if art not in staged:
                problems.append(
                    Finding(
                        Code.ARTEFACT_MISSING,
                        "no such object",
                        id=art,
                        path=archive.object_rel(art),
                    )
                )
            continue
        report.artefacts += 1
        if results is not None:
            ingest = state.ingests.get(art)
            for f in results[art]:
                problems.extend(f.findings(art, ingest) if isinstance(f, _LogLink) else [f])
        else:
            check_artefact(archive, art, keys, state, problems)


def check_artefact(
    archive: Archive,
    art: str,
    keys: dict[str, Identity],
    state: LogState | None,
    problems: list[Any],
) -> None:
    """One object: OCFL (fixity), the signed record, and its link to the custody log (left
    as :class:`_LogLink` entries when ``state`` is None: a worker process)."""
    rel = archive.object_rel(art)
    folder = archive.root / rel
    found, raw, kept = ocfl_check.check_object_inventory(
        folder, object_id=object_id_for(art), rel=rel
    )
    problems.extend(found)
    try:
        inv = raw if raw is not None else ocfl.read_inventory(folder)
        versions = sorted(inv["versions"], key=lambda v: int(v[1:]))
    except (ConstanciaError, KeyError, TypeError, ValueError, AttributeError):
        return  # check_object has reported it
    link = _LogLink(rel)
    ingest = state.ingests.get(art) if state is not None else None
    problems.extend(link.findings(art, ingest) if state is not None else [link])
    for v in versions:
        _check_record_version(
            folder, rel, art, inv, int(v[1:]), keys, ingest, problems, state is None, kept
        )


def _check_record_version(
    folder: Path,
    rel: str,
    art: str,
    inv: dict[str, Any],
    version: int,
    keys: dict[str, Identity],
    ingest: dict[str, Any] | None,
    problems: list[Any],
    defer_log: bool = False,
    kept: dict[str, bytes] | None = None,
) -> None:
    """The signed record of one version: signature, signer, and digests against the
    inventory. ``kept``: bytes of content files already read by the OCFL check."""
    kept = kept or {}
    try:
        state = ocfl.version_state(inv, version)
    except (ConstanciaError, KeyError, TypeError, ValueError):
        return
    rec_path = state.get("record.json")
    sig_path = state.get("record.json.sig")
    if rec_path is None:
        problems.append(
            Finding(Code.RECORD_MISSING, f"v{version} has no record.json", id=art, path=rel)
        )
        return
    try:
        data = kept[rec_path] if rec_path in kept else (folder / rec_path).read_bytes()
    except OSError:
        return  # FILE_MISSING already
    rrel = f"{rel}/{rec_path}"
    if sig_path is None:
        problems.append(
            Finding(Code.SIGNATURE_MISSING, "the record is not signed", id=art, path=rrel)
        )
    else:
        try:
            sig = kept[sig_path] if sig_path in kept else (folder / sig_path).read_bytes()
        except OSError:
            sig = None
        if sig is not None:
            try:
                raw = sshsig.verify(data, sig, RECORD_NAMESPACE)
            except SignatureError as e:
                problems.append(Finding(Code.SIGNATURE_INVALID, e.message, id=art, path=rrel))
            else:
                if not any(k.public_key == raw for k in keys.values()):
                    problems.append(
                        Finding(
                            Code.SIGNER_UNKNOWN,
                            "the record is signed by a key not registered in keys/",
                            id=art,
                            path=rrel,
                        )
                    )
    try:
        record = parse_record(data)
    except FormatError as e:
        problems.append(Finding(Code.RECORD_INVALID, e.message, id=art, path=rrel))
        return
    original = record["original"]
    orig_content = state.get(original["path"])
    digests = _inventory_digests(inv, orig_content)
    if (
        record["id"] != art
        or original["sha256"] != art
        or digests is None
        or digests != (original["sha256"], original["sha512"])
    ):
        problems.append(
            Finding(
                Code.RECORD_DIGEST_MISMATCH,
                "the original's digests differ from those in its signed record",
                id=art,
                path=f"{rel}/{orig_content or original['path']}",
            )
        )
    for name, info in (record.get("derived") or {}).items():
        if not isinstance(info, dict) or "path" not in info:
            continue
        held = _inventory_digests(inv, state.get(str(info["path"])))
        if held is None or held[0] != info.get("sha256"):
            problems.append(
                Finding(
                    Code.RECORD_DIGEST_MISMATCH,
                    f"the derived {name} differs from the digest in the signed record",
                    id=art,
                    path=f"{rel}/{state.get(str(info['path']), info['path'])}",
                )
            )
    if version == 1:
        rsha = _inventory_digests(inv, rec_path)
        link = _LogLink(rrel, rsha[0] if rsha is not None else None, version_1=True)
        problems.extend([link] if defer_log else link.findings(art, ingest))


def _inventory_digests(inv: dict[str, Any], content_path: str | None) -> tuple[str, str] | None:
    """(sha256, sha512) the inventory holds for a content path."""
    if content_path is None:
        return None
    sha512 = next((d for d, paths in inv["manifest"].items() if content_path in paths), None)
    fixity = inv.get("fixity", {}).get("sha256", {})
    sha256 = next((d for d, paths in fixity.items() if content_path in paths), None)
    if sha512 is None or sha256 is None:
        return None
    return sha256, sha512
