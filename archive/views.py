"""Read-side views for `show` and `log`, and the recorded fixity check of `verify --record`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from archive import ocfl
from archive.custody_log import parse_event, read_lines
from archive.identity import Signer
from archive.store import Archive
from archive.verify import verify_archive
from archive.verify_log import VerifyReport, check_keys, check_log
from artefacts.record import parse_record
from constancia.errors import ConstanciaError, FormatError


def custody_events(archive: Archive, artefact: str | None = None) -> list[dict[str, Any]]:
    """Every readable event, or only those about one artefact, in log order."""
    out = []
    needle = artefact.encode() if artefact else None
    for line in read_lines(archive.log_path).lines:
        if needle is not None and needle not in line:
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        if artefact is None or event["artefact"] == artefact:
            out.append(event)
    return out


def artefact_view(archive: Archive, artefact: str) -> dict[str, Any]:
    """The head record of an artefact, its versions and its custody trail."""
    folder = archive.object_dir(artefact)
    inv = ocfl.read_inventory(folder)
    state = ocfl.head_state(inv)
    record = parse_record((folder / state["record.json"]).read_bytes())
    return {
        "id": artefact,
        "path": archive.object_rel(artefact),
        "versions": len(inv["versions"]),
        "record": record,
        "custody": custody_events(archive, artefact),
    }


def log_verdict(archive: Archive) -> VerifyReport:
    """Check the custody log and checkpoints only (no originals): fast."""
    report = VerifyReport()
    keys = check_keys(archive, report.problems)
    check_log(archive, keys, report)
    return report


def record_fixity_check(
    archive: Archive, signer: Signer, ids: list[str] | None, *, wait: float = 60.0
) -> tuple[VerifyReport, ConstanciaError | None]:
    """Verify, then append the outcome as a fixity-check event (as PREMIS records one) and
    sign a checkpoint. The custodian's scheduled check leaves its own trace.

    A custody log that no longer matches its checkpoint is never appended to (that would
    cover the damage with a fresh signature): the report comes back with the refusal."""
    with archive.lock(wait=wait):
        archive.recover()
        report = verify_archive(archive, ids)
        try:
            writer = archive.log_writer()
        except ConstanciaError as e:
            return report, e
        codes = Counter(str(p.code) for p in report.problems)
        writer.add(
            signer,
            "fixity-check",
            ids[0] if ids and len(ids) == 1 else None,
            {
                "outcome": "pass" if report.ok else "fail",
                "scope": "all" if ids is None else ids,
                "artefacts": report.artefacts,
                "events": report.events,
                "problems": len(report.problems),
                "codes": dict(sorted(codes.items())),
            },
        )
        writer.checkpoint(signer)
    return report, None
