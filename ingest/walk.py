"""Turn the paths a documenter gives into the files to ingest, in a stable order.

Folders are walked recursively in sorted order; hidden files are skipped unless asked for;
symbolic links are reported and never followed; a sidecar (``NAME.yaml`` beside ``NAME``) is
metadata, not an artefact. Nothing here writes anything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from artefacts.companions import sidecar_name_for, transcript_name_for
from artefacts.metadata import is_sidecar
from constancia.errors import UsageError


@dataclass(frozen=True)
class Candidate:
    """A regular file to ingest, with its sidecar if one sits beside it."""

    path: Path
    sidecar: Path | None
    transcript: Path | None = None  # NAME.transcript.txt or NAME.vtt of audio or video


@dataclass(frozen=True)
class Skipped:
    """An input not ingested, and why (a plain sentence)."""

    path: Path
    reason: str
    status: str = "skipped"  # or "rejected"


def display(path: Path) -> str:
    """A path as text for people and JSON, even if its bytes are not UTF-8."""
    return os.fsencode(path).decode("utf-8", "replace")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def check_inputs(inputs: list[Path], archive_root: Path) -> None:
    """Refuse before any work: a missing input, or one inside the archive."""
    root = archive_root.resolve()
    for p in inputs:
        if not os.path.lexists(p):
            raise UsageError(
                "no such file or folder", path=display(p), hint="check the path and try again"
            )
        if not p.is_symlink() and _inside(p.resolve(), root):
            raise UsageError(
                "is inside the archive itself",
                path=display(p),
                hint="ingest files from outside the archive folder",
            )


def collect(
    inputs: list[Path], *, archive_root: Path, include_hidden: bool = False
) -> list[Candidate | Skipped]:
    """Every file to ingest (and every input skipped), in the order given, folders sorted."""
    check_inputs(inputs, archive_root)
    root = archive_root.resolve()
    out: list[Candidate | Skipped] = []
    for p in inputs:
        if p.is_symlink():
            out.append(Skipped(p, "is a symbolic link; links are never followed"))
        elif p.is_dir():
            _walk(p.absolute(), out, root, include_hidden)
        else:
            siblings = _file_names(p.absolute().parent)
            if is_sidecar(p, siblings):
                continue
            out.append(_file(p.absolute(), siblings))
    return out


def _file_names(folder: Path) -> set[str]:
    """Names of the regular files in a folder (what a sidecar can belong to)."""
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it if e.is_file(follow_symlinks=False)}
    except OSError:
        return set()


def _file(path: Path, siblings: set[str]) -> Candidate | Skipped:
    try:
        st = path.lstat()
    except OSError as e:
        return Skipped(path, f"cannot be read ({e.strerror})", "rejected")
    if not stat.S_ISREG(st.st_mode):
        return Skipped(path, "is not a regular file (a device, pipe or socket)", "rejected")
    side = sidecar_name_for(path.name, siblings)
    script = transcript_name_for(path.name, siblings)
    return Candidate(
        path,
        path.parent / side if side is not None else None,
        path.parent / script if script is not None else None,
    )


def _walk(folder: Path, out: list[Candidate | Skipped], archive: Path, hidden: bool) -> None:
    if folder.resolve() == archive:
        out.append(Skipped(folder, "is the archive itself; it was left out"))
        return
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as e:
        out.append(Skipped(folder, f"cannot be listed ({e.strerror})", "rejected"))
        return
    files = {e.name for e in entries if e.is_file(follow_symlinks=False)}
    for entry in entries:
        if entry.name.startswith(".") and not hidden:
            continue
        path = folder / entry.name
        if entry.is_symlink():
            out.append(Skipped(path, "is a symbolic link; links are never followed"))
        elif entry.is_dir(follow_symlinks=False):
            _walk(path, out, archive, hidden)
        elif not is_sidecar(path, files):
            out.append(_file(path, files))
