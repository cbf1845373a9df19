"""Verification: fixity, OCFL inventories, signed records, and their custody trail.

Only reads: it works on a copy on read-only media, needs no key, and never stops at the first
problem. Every problem is a :class:`Finding` with a stable code. The custody log and the
checkpoints are checked in :mod:`archive.verify_log`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive import hashing, ocfl, ocfl_check, sshsig
from archive.custody_log import ARRIVAL_ACTIONS, parse_event, read_lines
from archive.findings import Code, Finding
from archive.identity import Identity
from archive.store import STAGE_PREFIX, Archive, object_id_for
from archive.timestamp_verify import check_timestamps
from archive.verify_log import LogState, VerifyReport, check_keys, check_log
from archive.verify_sources import check_sources
from artefacts.record import RECORD_NAMESPACE, parse_record
from constancia.errors import ConstanciaError, FormatError, SignatureError

log = logging.getLogger(__name__)

__all__ = ["LogState", "VerifyReport", "check_keys", "check_log", "verify_archive"]


#: Below this many artefacts, starting worker processes costs more than it saves.
PARALLEL_MIN = 1000


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
    present = set(archive.artefact_ids())
    wanted = selected if selected is not None else sorted(present)
    if workers is None:
        workers = 2 if len(wanted) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1 else 1
    checked = None
    if workers > 1:
        checked = _start_workers(archive, [a for a in wanted if a in present], keys, workers)
    try:
        state = check_log(archive, keys, report)
        check_timestamps(archive, report.problems)
        check_sources(archive, report.problems)
        check_staging(archive, state, report.problems, selected)
        results = checked.collect() if checked is not None else None
    finally:
        if checked is not None:
            checked.pool.shutdown(cancel_futures=True)
    check_objects(archive, keys, state, report, present, wanted, selected, progress, results)
    return report


@dataclass
class _Workers:
    pool: ProcessPoolExecutor
    futures: list[Future[dict[str, list[Finding]]]]

    def collect(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.futures:
            out.update(f.result())
        return out


def _start_workers(
    archive: Archive, wanted: list[str], keys: dict[str, Identity], workers: int
) -> _Workers:
    # A quick pass for what the workers need from the log: each artefact's first ingest (or
    # import) event (the full check of the log runs meanwhile in this process).
    ingests: dict[str, str] = {}
    needles = [f'"action":"{a}"'.encode() for a in ARRIVAL_ACTIONS]
    for line in read_lines(archive.log_path).lines:
        if not any(n in line for n in needles):
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        if event["action"] in ARRIVAL_ACTIONS and isinstance(event["artefact"], str):
            record = event["details"].get("record")
            digest = record.get("sha256") if isinstance(record, dict) else None
            ingests.setdefault(event["artefact"], str(digest))
    # Forked workers start at once and need no re-import; no thread of ours may be running
    # when they are made, so the hashing threads are stopped first.
    hashing.shutdown_pool()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    n = workers * 4
    chunks = [wanted[i::n] for i in range(n) if wanted[i::n]]
    futures = [
        pool.submit(_check_chunk, archive.root, c, keys, {a: ingests.get(a) for a in c})
        for c in chunks
    ]
    return _Workers(pool, futures)


def _check_chunk(
    root: Path, ids: list[str], keys: dict[str, Identity], ingests: dict[str, str | None]
) -> dict[str, list[Finding]]:
    """Worker process: check these objects; findings by artefact."""
    archive = Archive.open(root)
    state = LogState(
        [], [], {a: {"details": {"record": {"sha256": d}}} for a, d in ingests.items() if d}
    )
    out: dict[str, list[Finding]] = {}
    for art in ids:
        found: list[Finding] = []
        check_artefact(archive, art, keys, state, found)
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
    results: dict[str, list[Finding]] | None = None,
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
            problems.extend(results[art])
        else:
            check_artefact(archive, art, keys, state, problems)


def check_artefact(
    archive: Archive,
    art: str,
    keys: dict[str, Identity],
    state: LogState,
    problems: list[Finding],
) -> None:
    """One object: OCFL (fixity), the signed record, and its link to the custody log."""
    rel = archive.object_rel(art)
    folder = archive.root / rel
    found, raw = ocfl_check.check_object_inventory(folder, object_id=object_id_for(art), rel=rel)
    problems.extend(found)
    try:
        inv = raw if raw is not None else ocfl.read_inventory(folder)
        versions = sorted(inv["versions"], key=lambda v: int(v[1:]))
    except (ConstanciaError, KeyError, TypeError, ValueError, AttributeError):
        return  # check_object has reported it
    ingest = state.ingests.get(art)
    if ingest is None:
        problems.append(
            Finding(
                Code.ARTEFACT_NOT_IN_LOG, "no ingest event in the custody log", id=art, path=rel
            )
        )
    for v in versions:
        _check_record_version(folder, rel, art, inv, int(v[1:]), keys, ingest, problems)


def _check_record_version(
    folder: Path,
    rel: str,
    art: str,
    inv: dict[str, Any],
    version: int,
    keys: dict[str, Identity],
    ingest: dict[str, Any] | None,
    problems: list[Finding],
) -> None:
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
        data = (folder / rec_path).read_bytes()
    except OSError:
        return  # FILE_MISSING already
    rrel = f"{rel}/{rec_path}"
    if sig_path is None:
        problems.append(
            Finding(Code.SIGNATURE_MISSING, "the record is not signed", id=art, path=rrel)
        )
    else:
        try:
            sig = (folder / sig_path).read_bytes()
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
    if version == 1 and ingest is not None:
        rsha = _inventory_digests(inv, rec_path)
        want = ingest["details"].get("record", {}).get("sha256")
        if rsha is None or rsha[0] != want:
            problems.append(
                Finding(
                    Code.EVENT_RECORD_MISMATCH,
                    "the record differs from the one the ingest event names",
                    id=art,
                    path=rrel,
                )
            )


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
