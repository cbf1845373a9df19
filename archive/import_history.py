"""An import's source custody history, kept write-once under custody/sources/<origin>/<N>/."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

from archive.findings import Code, Finding
from archive.fsutil import syncfs, write_file
from archive.import_source import HistoryFile, SourcePlan, SourceRefused, open_regular
from archive.store import Archive


def install_history(archive: Archive, plan: SourcePlan, files: dict[str, HistoryFile]) -> None:
    """Copy the history files into tmp/, make them durable, then move each into place."""
    rel = plan.history_rel
    assert rel is not None
    stage = archive.tmp / f"src-{secrets.token_hex(6)}"
    try:
        for name, hf in files.items():
            dst = stage / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            with open_regular(hf.path) as f:
                data = f.read(hf.size)
            if hashlib.sha256(data).hexdigest() != hf.sha256:
                raise source_changed(plan, hf.path, "its custody history")
            write_file(dst, data, fsync=False)
        syncfs(archive.root)
        folder = archive.root / rel
        for name in files:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(target):  # under the lock: nobody else adds one
                os.rename(stage / name, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def source_changed(plan: SourcePlan, path: Path | str, what: str) -> SourceRefused:
    shown = os.fsencode(path).decode("utf-8", "replace")
    return SourceRefused(
        f"{what} of the source changed after it was checked ({shown}); "
        "what was imported before it is kept",
        [Finding(Code.FIXITY_MISMATCH, "changed after it was checked", path=shown)],
        path=plan.path,
        hint="make sure nothing writes to the source, then run the same import again",
    )
