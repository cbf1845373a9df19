"""Installing an import's new versions of an artefact already kept, and finishing that
after a crash.

A revision is staged in ``tmp/rev-<id>``: a copy of the object's root inventory, the new
version folders, and ``base`` (the head it was staged on). Once its ``import`` events are in
the log, the version folders are renamed into the object and the root inventory replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from archive import ocfl
from archive.custody_log import parse_event
from archive.fsutil import write_atomic
from archive.store import REVISION_PREFIX, Archive
from constancia.errors import ConstanciaError, FormatError

BASE = "base"


def install_revision(archive: Archive, stage: Path, art: str, upto: int | None = None) -> None:
    """Move a staged revision's version folders into the object, then its inventory."""
    folder = archive.object_dir(art)
    base = int((stage / BASE).read_text())
    inv = json.loads((stage / ocfl.INVENTORY).read_text(encoding="utf-8"))
    head = upto if upto is not None else ocfl.head_number(inv)
    for n in range(base + 1, head + 1):
        if (stage / f"v{n}").is_dir() and not (folder / f"v{n}").exists():
            os.rename(stage / f"v{n}", folder / f"v{n}")
    for name in (ocfl.INVENTORY, ocfl.SIDECAR):
        write_atomic(folder / name, (folder / f"v{head}" / name).read_bytes(), fsync=False)
    shutil.rmtree(stage)


def finish_revision(archive: Archive, stage: Path, lines: list[bytes]) -> str:
    """After a crash: install the staged versions whose import events reached the log;
    remove the rest. Returns a note for the user."""
    art = stage.name[len(REVISION_PREFIX) :]
    try:
        base = int((stage / BASE).read_text())
        inv = json.loads((stage / ocfl.INVENTORY).read_text(encoding="utf-8"))
        fixity = {p: d for d, ps in inv["fixity"]["sha256"].items() for p in ps}
        logged = _logged_records(lines, art)
        upto = base
        for n in range(base + 1, ocfl.head_number(inv) + 1):
            state = ocfl.version_state(inv, n)
            if fixity.get(state["record.json"]) not in logged:
                break
            upto = n
    except (OSError, ValueError, KeyError, TypeError, ConstanciaError):
        upto = 0
    if upto > base > 0:
        install_revision(archive, stage, art, upto)
        return f"completed the interrupted import of {art[:16]}"
    shutil.rmtree(stage, ignore_errors=True)
    return f"removed the unfinished import of {art[:16]}"


def _logged_records(lines: list[bytes], art: str) -> set[str]:
    needle = art.encode()
    out = set()
    for line in lines:
        if b'"action":"import"' in line and needle in line:
            with contextlib.suppress(FormatError):
                event = parse_event(line)
                record = event["details"].get("record")
                if event["artefact"] == art and isinstance(record, dict):
                    out.add(str(record.get("sha256")))
    return out
