"""Durable file operations: write under a temporary name, fsync, rename into place."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
from pathlib import Path

_libc: ctypes.CDLL | None = None


#: Every temporary file starts so; a killed command may leave one, which recovery removes.
TEMP_PREFIX = ".tmp-"


def temp_name(path: Path) -> Path:
    """A temporary sibling of ``path``: same folder, so ``os.replace`` is atomic."""
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")


def remove_temporaries(folder: Path) -> int:
    """Remove the temporary files (never folders) a killed command left in ``folder``."""
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
    return removed


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new names, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes, *, fsync: bool = True, mode: int = 0o644) -> None:
    """Create ``path`` (which must not exist) holding ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, fsync: bool = True, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: a crash leaves the old or the new bytes, never half."""
    tmp = temp_name(path)
    try:
        write_file(tmp, data, fsync=fsync, mode=mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if fsync:
        fsync_dir(path.parent)


def syncfs(path: Path) -> None:
    """Flush everything written to the file system holding ``path``: one journal commit for a
    whole batch of files instead of one fsync each. Falls back to ``os.sync``."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name, use_errno=True) if name else ctypes.CDLL(None, use_errno=True)
    fn = getattr(_libc, "syncfs", None)
    if fn is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if fn(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
