"""What an import would add to the receiving archive: the plan compared with what is kept.

Read under the archive's lock, before anything is written; nothing here writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any

from archive import ocfl
from archive.custody_log import parse_event
from archive.findings import Code, Finding
from archive.identity import Identity
from archive.import_report import Outcome
from archive.import_source import (
    HistoryFile,
    SourceArtefact,
    SourcePlan,
    SourceRefused,
    SourceVersion,
    open_regular,
)
from archive.store import Archive
from constancia.errors import FormatError

#: (artefact, the versions to take in, its outcome)
Work = tuple[SourceArtefact, list[SourceVersion], Outcome]


def _record_digests(inv: dict[str, Any]) -> set[str]:
    """The sha512 of every version's record.json."""
    out = set()
    for block in inv.get("versions", {}).values():
        for digest, paths in block.get("state", {}).items():
            if "record.json" in paths:
                out.add(digest)
    return out


def pending_artefacts(archive: Archive, plan: SourcePlan) -> tuple[list[Work], list[Outcome]]:
    """Per source artefact: new (every version), revised (the versions whose record the
    archive holds in none of its versions) or unchanged."""
    work = []
    outcomes = []
    for art in plan.artefacts:
        if not archive.has_artefact(art.id):
            outcome = Outcome(art.id, "new")
            work.append((art, art.versions, outcome))
        else:
            present = _record_digests(ocfl.read_inventory(archive.object_dir(art.id)))
            versions = []
            for v in art.versions:
                digest = v.files["record.json"].sha512
                if digest not in present:
                    versions.append(v)
                    present.add(digest)
            outcome = Outcome(art.id, "revised" if versions else "unchanged")
            if versions:
                work.append((art, versions, outcome))
        outcomes.append(outcome)
    return work, outcomes


def pending_history(archive: Archive, plan: SourcePlan) -> dict[str, HistoryFile]:
    """History files not yet kept. A file kept with other bytes means the source's history
    was rewritten since it was last imported: refused, and the kept file is the evidence."""
    rel = plan.history_rel
    if rel is None:
        return {}
    folder = archive.root / rel
    out = {}
    for name, hf in sorted(plan.history.items()):
        target = folder / name
        if not os.path.lexists(target):
            out[name] = hf
            continue
        with open_regular(target) as f:
            same = hashlib.sha256(f.read()).hexdigest() == hf.sha256
        if not same:
            raise SourceRefused(
                f"the source's custody history at {plan.checkpoint_size} events differs from "
                f"the one kept at its earlier import ({rel}/{name}): its log was rewritten",
                [Finding(Code.SOURCE_HISTORY_INVALID, "differs from the kept copy", path=name)],
                path=plan.path,
                hint="nothing was written; the kept copy is the evidence of the change",
            )
    return out


def pending_keys(plan: SourcePlan, lines: list[bytes]) -> list[Identity]:
    """Source keys that no key-registered event of this archive names yet."""
    registered = set()
    for line in lines:
        if b'"action":"key-registered"' in line:
            with contextlib.suppress(FormatError):
                fp = parse_event(line)["details"].get("fingerprint")
                registered.add(fp)
    return [k for k in plan.keys if k.fingerprint not in registered]


def unfinished_run(lines: list[bytes], plan: SourcePlan) -> int:
    """``import`` events from this very source (origin, checkpoint, package) after its last
    ``imported`` event: a run that was killed before it could record itself."""
    key = (plan.origin, plan.checkpoint_size, plan.package)
    pending = 0
    for line in lines:
        if b'"action":"import' not in line:
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        details = event["details"]
        block = details.get("source") if event["action"] == "import" else details
        if event["action"] not in ("import", "imported") or not isinstance(block, dict):
            continue
        checkpoint = block.get("checkpoint")
        size = checkpoint.get("size") if isinstance(checkpoint, dict) else None
        if (block.get("origin"), size, block.get("package")) == key:
            pending = pending + 1 if event["action"] == "import" else 0
    return pending
