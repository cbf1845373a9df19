"""`constancia import`: another archive, an evidence package or a BagIt bag, taken in.

Plan first: the whole source is read and checked (:func:`archive.import_source.plan_source`)
before the archive's lock is taken or anything is written. Then, holding the lock, an archive
or a package is written by :func:`archive.importing.write_import`; a plain bag's payload goes
through the ingest pipeline with provenance naming the bag, followed by an ``imported`` event.
Last, the search index catches up (a failure there is a warning, never a loss).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive.identity import Signer
from archive.import_report import ImportReport, Outcome, Progress
from archive.import_source import SourcePlan, SourceUnverified, plan_source
from archive.importing import write_import
from archive.store import Archive
from constancia.errors import StorageError, UsageError
from ingest.indexing import RunIndexer
from ingest.pipeline import IngestReport, ingest_paths
from ingest.walk import display

#: bag-info.txt labels kept in the ``imported`` event of a plain bag (bag-info.txt can be
#: large; the whole file is in the bag, and its manifests name every payload byte).
_BAG_LABELS = (
    "Source-Organization",
    "Contact-Name",
    "External-Identifier",
    "External-Description",
    "Internal-Sender-Identifier",
    "Bagging-Date",
    "Payload-Oxum",
)


def import_path(
    archive: Archive,
    signer: Signer,
    path: Path,
    *,
    accept_unverified: str | None = None,
    wait: float = 60.0,
    on_wait: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    index_progress: Any = None,
) -> ImportReport:
    """Import the archive, package or bag at ``path``.

    Raises :class:`archive.import_source.SourceRefused` (structural problems, whatever is
    accepted) or :class:`SourceUnverified` (signatures or history that do not prove out,
    unless ``accept_unverified`` gives the reason they are taken anyway), before anything is
    written."""
    source = path.absolute()
    if source == archive.root or archive.root in source.parents:
        raise UsageError(
            "is this archive, or inside it",
            path=display(source),
            hint="import another archive, a package or a bag from outside this one",
        )
    if accept_unverified is not None and not accept_unverified.strip():
        raise UsageError(
            "--accept-unverified needs a reason",
            hint='say why, e.g. --accept-unverified "the field key was lost; checked by hand"',
        )
    plan = plan_source(source, wait=wait)
    if plan.problems and accept_unverified is None:
        first = plan.problems[0]
        raise SourceUnverified(
            f"does not prove out: {len(plan.problems)} problem(s), first {first.code} "
            f"{first.path or ''}: {first.message}",
            plan.problems,
            path=display(source),
            hint="nothing was written; ask the sender for an intact copy, or import it anyway "
            'with --accept-unverified "REASON" (the reason is kept in the custody log)',
        )
    accepted = accept_unverified.strip() if accept_unverified and plan.problems else None
    _check_space(archive, plan)
    if plan.kind == "bag":
        return _import_bag(archive, signer, plan, accepted, wait, on_wait, progress, index_progress)
    with archive.lock(wait=wait, on_wait=on_wait):
        notes = archive.recover()
        indexer = RunIndexer(archive, len(plan.artefacts))
        try:
            report = write_import(
                archive,
                signer,
                plan,
                accepted=accepted,
                progress=progress,
                on_commit=lambda new, revised: indexer.committed(new, replaced=revised),
            )
        except BaseException:
            indexer.abort()
            raise
        report.notes = notes + indexer.finish_run(index_progress)
    return report


def _check_space(archive: Archive, plan: SourcePlan) -> None:
    if plan.kind == "bag":
        needed = plan.total_bytes
    else:
        needed = sum(
            f.size
            for a in plan.artefacts
            if not archive.has_artefact(a.id)
            for v in a.versions
            for f in v.files.values()
        )
    free = shutil.disk_usage(archive.root).free
    if needed > free:
        raise StorageError(
            f"the import needs about {needed / 1e6:,.0f} MB but only {free / 1e6:,.0f} MB are "
            "free on the archive's disk; nothing was written",
            hint="free some space (or move the archive to a larger disk) and try again",
        )


def _import_bag(
    archive: Archive,
    signer: Signer,
    plan: SourcePlan,
    accepted: str | None,
    wait: float,
    on_wait: Callable[[str], None] | None,
    progress: Any,
    index_progress: Any,
) -> ImportReport:
    """A plain bag: its payload is ingested like any folder (sidecars honoured), each record
    and arrival event naming the bag; then one ``imported`` event if anything arrived."""
    provenance = {
        "bag": display(plan.path),
        "external_identifier": plan.package,
        "bagging_date": plan.bag_info.get("Bagging-Date"),
    }
    # Hidden files too: in a bag every payload file is listed in its manifests, so each one
    # is part of what was sent.
    ingested = ingest_paths(
        archive,
        signer,
        [plan.path / "data"],
        include_hidden=True,
        provenance=provenance,
        progress=progress,
        index_progress=index_progress,
        wait=wait,
        on_wait=on_wait,
    )
    report = ImportReport(plan, _bag_outcomes(plan, ingested), accepted=accepted)
    report.notes = list(ingested.notes)
    report.checkpoint_size = ingested.checkpoint_size
    if report.changed:
        plan.bag_info = {k: v[:1000] for k, v in plan.bag_info.items() if k in _BAG_LABELS}
        events = report.count("new") + report.count("received")
        with archive.lock(wait=wait, on_wait=on_wait):
            archive.recover()
            writer = archive.log_writer()
            writer.add(signer, "imported", None, report.event_details(events))
            report.checkpoint_size = writer.checkpoint(signer).size
    return report


def _bag_outcomes(plan: SourcePlan, ingested: IngestReport) -> list[Outcome]:
    out = []
    for r in ingested.results:
        status = {"ingested": "new", "duplicate": "received" if r.recorded else "unchanged"}
        outcome = Outcome(r.id, status.get(r.status, r.status), source=r.source, error=r.error)
        try:
            rel = Path(r.source).relative_to(plan.path).as_posix()
        except ValueError:
            rel = ""
        expected = plan.payload_sha256.get(rel)
        if r.sha256 is not None and expected is not None and expected != r.sha256:
            # Changed between the check and the copy: the archive holds what it read.
            outcome.error = "the file changed after the bag was checked; its manifest differs"
        out.append(outcome)
    return out
