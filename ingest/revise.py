"""Adding derived files to artefacts already kept: a new OCFL version, a new signed record.

Used by `constancia index rebuild`: artefacts ingested before text extraction existed get
their derived files, and with ``--ocr`` artefacts whose OCR was skipped (Tesseract missing at
ingest) get it now. The original is never touched; the new record says what changed, and the
custody log records it as a ``derived-added`` event.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from archive import ocfl
from archive.custody_log import LogWriter, utc_now
from archive.hashing import sha256_hex, sha512_hex
from archive.identity import Signer
from archive.store import Archive
from artefacts.record import RECORD_NAMESPACE, parse_record, record_bytes
from constancia.errors import ConstanciaError
from ingest.derived import write_derived

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    artefact_id: str
    reason: str  # "no derived files" or "OCR was skipped"


def needing_derived(archive: Archive, *, ocr: bool) -> list[Pending]:
    """Artefacts whose head record has no derived files, or (with ``ocr``) skipped OCR."""
    out = []
    for artefact in archive.artefact_ids():
        try:
            folder = archive.object_dir(artefact)
            state = ocfl.head_state(ocfl.read_inventory(folder))
            record = parse_record((folder / state["record.json"]).read_bytes())
        except (OSError, KeyError, ConstanciaError):
            continue  # verify reports it
        derived = record.get("derived")
        if not derived:
            out.append(Pending(artefact, "no derived files"))
        elif ocr and (derived.get("text") or {}).get("ocr") == "skipped":
            out.append(Pending(artefact, "OCR was skipped"))
    return out


def add_derived(
    archive: Archive, signer: Signer, writer: LogWriter, item: Pending, *, ocr: bool
) -> bool:
    """Extract again and, if anything new came out, add version N+1 with the derived files and
    a re-signed record, and queue a ``derived-added`` event. Returns True if a version was
    added. Call holding the archive lock."""
    folder = archive.object_dir(item.artefact_id)
    inv = ocfl.read_inventory(folder)
    state = ocfl.head_state(inv)
    record = parse_record((folder / state["record.json"]).read_bytes())
    n = ocfl.head_number(inv) + 1
    original = folder / state[record["original"]["path"]]
    content = folder / f"v{n}" / "content"
    content.mkdir(parents=True)
    try:
        derived = write_derived(content, original, record["original"]["media_type"], ocr=ocr)
        old = (record.get("derived") or {}).get("text") or {}
        new = derived.info.get("text") or {}
        if (
            record.get("derived")
            and new.get("ocr") != "done"
            and old.get("sha256") == new.get("sha256")
        ):
            shutil.rmtree(folder / f"v{n}")
            return False  # nothing gained (e.g. Tesseract still missing)
        ident = signer.identity
        now = utc_now()
        revised: dict[str, Any] = dict(record)
        revised["version"] = n
        revised["derived"] = derived.info
        revised["revision"] = {
            "at": now,
            "by": {"name": ident.name, "key": ident.fingerprint},
            "what": f"derived files added ({item.reason})",
            "previous_version": n - 1,
        }
        rbytes = record_bytes(revised)
        sig = signer.sign_sshsig(rbytes, RECORD_NAMESPACE).encode("ascii")
        for logical, data in (("record.json", rbytes), ("record.json.sig", sig)):
            (content / logical).write_bytes(data)
        entries = [
            *derived.entries,
            ocfl.FileEntry("record.json", sha512_hex(rbytes), sha256_hex(rbytes)),
            ocfl.FileEntry("record.json.sig", sha512_hex(sig), sha256_hex(sig)),
        ]
        for e in derived.entries:  # content the object already holds is not stored twice
            if not ocfl.needs_content(folder, e.sha512):
                (content / e.logical_path).unlink()
        _remove_empty_dirs(content)
        ocfl.add_version(
            folder,
            entries,
            created=now,
            message=f"derived files added ({item.reason})",
            user_name=ident.name,
            user_address=f"urn:constancia:key:{quote(ident.fingerprint, safe='')}",
        )
    except BaseException:
        with contextlib.suppress(OSError):
            ocfl.roll_back_incomplete_version(folder)
        raise
    writer.add(
        signer,
        "derived-added",
        item.artefact_id,
        {
            "reason": item.reason,
            "record": {"version": n, "sha256": sha256_hex(rbytes)},
            "derived": sorted(e.logical_path for e in derived.entries),
        },
        time=now,
    )
    return True


def _remove_empty_dirs(root: Any) -> None:
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()


def add_missing_derived(
    archive: Archive,
    signer: Signer,
    items: list[Pending],
    *,
    ocr: bool,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Run :func:`add_derived` for every item, then sign a checkpoint. Hold the lock."""
    writer = archive.log_writer()
    added = 0
    try:
        for item in items:
            added += add_derived(archive, signer, writer, item, ocr=ocr)
            if progress is not None:
                progress(1)
    finally:
        writer.checkpoint_if_needed(signer)
    return added
