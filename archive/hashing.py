"""Stream a file once, computing SHA-256 and SHA-512 together (and optionally copying it).

hashlib releases the GIL for large updates, so the two digests run on two threads while the
main thread reads (and writes) the next chunk: one pass over the bytes, both cores busy.
Memory stays at a few chunks whatever the file size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 4 << 20
#: Below this size the thread hand-off costs more than it saves.
_THREAD_THRESHOLD = 1 << 20

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="constancia-hash")
    return _pool


def shutdown_pool() -> None:
    """Stop the hashing threads (before forking worker processes: a child must not inherit
    threads it cannot run). They are started again on the next large file."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


@dataclass(frozen=True)
class Digests:
    """Lowercase hex digests and the size in bytes."""

    sha256: str
    sha512: str
    size: int


def copy_and_hash(
    src: BinaryIO,
    write: Callable[[bytes], object] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Digests:
    """Read ``src`` to its end once; hash every byte; pass each chunk to ``write`` if given.

    ``progress`` is called with the number of bytes of each chunk as it is done.
    """
    h256 = hashlib.sha256()
    h512 = hashlib.sha512()
    size = 0
    first = src.read(CHUNK)
    if len(first) < _THREAD_THRESHOLD:
        # Small file: no threads. It may still be longer than one chunk read returned.
        chunk = first
        while chunk:
            h256.update(chunk)
            h512.update(chunk)
            if write is not None:
                write(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
            chunk = src.read(CHUNK)
        return Digests(h256.hexdigest(), h512.hexdigest(), size)
    pool = _executor()
    chunk = first
    pending: tuple[Future[None], Future[None]] | None = None
    while chunk:
        if pending is not None:
            pending[0].result()
            pending[1].result()
        pending = (pool.submit(h256.update, chunk), pool.submit(h512.update, chunk))
        if write is not None:
            write(chunk)
        size += len(chunk)
        if progress is not None:
            progress(len(chunk))
        chunk = src.read(CHUNK)
    if pending is not None:
        pending[0].result()
        pending[1].result()
    return Digests(h256.hexdigest(), h512.hexdigest(), size)


def hash_file(path: Path, *, progress: Callable[[int], None] | None = None) -> Digests:
    """SHA-256 and SHA-512 of a file, read once."""
    with open(path, "rb", buffering=0) as f:
        return copy_and_hash(f, progress=progress)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha512_hex(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def fd_writer(fd: int) -> Callable[[bytes], None]:
    """A ``write`` for :func:`copy_and_hash` writing every byte to ``fd`` (no partial writes).

    Full chunks are handed to the kernel for writeback as soon as they are written, so that
    writing a large file to disk overlaps hashing it instead of all waiting for the final
    flush (and the copy does not crowd the page cache)."""
    offset = 0

    def write(data: bytes) -> None:
        nonlocal offset
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if len(data) >= CHUNK:
            os.posix_fadvise(fd, offset, len(data), os.POSIX_FADV_DONTNEED)
        offset += len(data)

    return write
