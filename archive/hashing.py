"""Stream a file once, computing SHA-256 and SHA-512 together (and optionally copying it).

hashlib releases the GIL for large updates, so the two digests run on two threads while the
main thread reads (and writes) the next chunk: one pass over the bytes, both cores busy.
Chunks are read into two reused, page-aligned buffers (no allocation per chunk), and a
:func:`fd_writer` sends them to the disk straight from there. Memory stays at a few chunks
whatever the file size.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

CHUNK = 4 << 20
#: Below this size the thread hand-off costs more than it saves.
_THREAD_THRESHOLD = 1 << 20
#: O_DIRECT needs buffers, offsets and lengths aligned to the device's logical block size;
#: 4096 covers every common one.
_ALIGN = 4096

#: One thread per digest: each runs its updates in the order given. (With one pool of two,
#: chunk i + 1 could reach a hash before chunk i does, as the two may be in flight at once.)
_pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None
_pools_lock = threading.Lock()


def _executors() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    global _pools
    with _pools_lock:
        if _pools is None:
            _pools = (
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="constancia-sha256"),
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="constancia-sha512"),
            )
        return _pools


def shutdown_pool() -> None:
    """Stop the hashing threads (before forking worker processes: a child must not inherit
    threads it cannot run). They are started again on the next large file."""
    global _pools
    with _pools_lock:
        if _pools is not None:
            _pools[0].shutdown(wait=True)
            _pools[1].shutdown(wait=True)
            _pools = None


_spare: list[tuple[mmap.mmap, mmap.mmap]] = []
_spare_lock = threading.Lock()


@contextmanager
def _buffers() -> Iterator[tuple[memoryview, memoryview]]:
    """Two page-aligned CHUNK buffers for one stream, kept for the next one (mapping and
    first touching 8 MiB per file would cost more than hashing a small one)."""
    with _spare_lock:
        pair = _spare.pop() if _spare else None
    if pair is None:
        pair = (mmap.mmap(-1, CHUNK), mmap.mmap(-1, CHUNK))
    views = (memoryview(pair[0]), memoryview(pair[1]))
    try:
        yield views
    finally:
        views[0].release()
        views[1].release()
        with _spare_lock:
            _spare.append(pair)


class Source(Protocol):
    """What :func:`copy_and_hash` reads: a binary file (unbuffered is best), or any stream
    that can fill a buffer."""

    def readinto(self, buffer: Any, /) -> int | None: ...


@dataclass(frozen=True)
class Digests:
    """Lowercase hex digests and the size in bytes."""

    sha256: str
    sha512: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> Digests:
        """The digests of bytes already in memory."""
        return cls(hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(), len(data))


def copy_and_hash(
    src: Source,
    write: Callable[[memoryview], object] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Digests:
    """Read ``src`` to its end once; hash every byte; pass each chunk to ``write`` if given.

    A chunk is a view of a reused buffer, valid only during the call: ``write`` must not keep
    it. ``progress`` is called with the number of bytes of each chunk as it is done.
    """
    h256 = hashlib.sha256()
    h512 = hashlib.sha512()
    size = 0
    with _buffers() as bufs:
        n = _fill(src, bufs[0])
        if n < _THREAD_THRESHOLD:
            # Small file: no threads. It may still be longer than one read returned.
            while n:
                chunk = bufs[0][:n]
                h256.update(chunk)
                h512.update(chunk)
                if write is not None:
                    write(chunk)
                size += n
                if progress is not None:
                    progress(n)
                n = _fill(src, bufs[0])
            return Digests(h256.hexdigest(), h512.hexdigest(), size)
        put = write.write_aligned if isinstance(write, FdWriter) else write
        pool256, pool512 = _executors()
        # Chunk i is read into buffer i % 2 once the hashes of chunk i - 2 (same buffer) are
        # done; its write, in this thread, is done by then too.
        pending: list[tuple[Future[None], Future[None]] | None] = [None, None]
        i = 0
        try:
            while n:
                chunk = bufs[i % 2][:n]
                pending[i % 2] = (
                    pool256.submit(h256.update, chunk),
                    pool512.submit(h512.update, chunk),
                )
                if put is not None:
                    put(chunk)
                size += n
                if progress is not None:
                    progress(n)
                i += 1
                _wait(pending[i % 2])
                pending[i % 2] = None
                n = _fill(src, bufs[i % 2])
            _wait(pending[0])
            _wait(pending[1])
        finally:
            # On an error too: no hashing thread may still read a buffer given back.
            for waiting in pending:
                if waiting is not None:
                    waiting[0].exception()
                    waiting[1].exception()
    return Digests(h256.hexdigest(), h512.hexdigest(), size)


def _fill(src: Source, buffer: memoryview) -> int:
    n = src.readinto(buffer)
    if n is None:  # a non-blocking stream with nothing yet: never taken for the end
        raise OSError(errno.EAGAIN, "the source gave no data without waiting")
    return n


def _wait(futures: tuple[Future[None], Future[None]] | None) -> None:
    if futures is not None:
        futures[0].result()
        futures[1].result()


def hash_file(path: Path, *, progress: Callable[[int], None] | None = None) -> Digests:
    """SHA-256 and SHA-512 of a file, read once."""
    with open(path, "rb", buffering=0) as f:
        return copy_and_hash(f, progress=progress)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha512_hex(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def fd_writer(fd: int, *, after_chunk: Callable[[], None] | None = None) -> FdWriter:
    """A ``write`` for :func:`copy_and_hash` writing every byte to ``fd`` (no partial writes).

    Whole chunks of a large file go to the disk directly (``O_DIRECT``) where the file system
    allows it: buffered, the kernel copied each byte into the page cache and wrote it back
    only at the final fsync, so a 1 GiB copy ran at 370-410 MB/s on a disk that takes
    1.7 GB/s directly. The last, partial piece is written buffered (the caller's fsync makes
    it durable); small files never take the direct path. Where ``O_DIRECT`` is refused
    (tmpfs, some network file systems), chunks are written buffered and handed to the kernel
    for writeback at once. ``after_chunk`` is called after each chunk is written."""
    return FdWriter(fd, after_chunk)


class FdWriter:
    """See :func:`fd_writer`. ``writing`` is true while a write is under way, and stays true
    if it failed: a caller tells a failed write from a failed read by it."""

    def __init__(self, fd: int, after_chunk: Callable[[], None] | None = None) -> None:
        self.fd = fd
        self.after_chunk = after_chunk
        self.offset = 0
        self.writing = False
        self._direct: _Direct | None = None
        self._tried = False

    def __call__(self, data: bytes | memoryview) -> None:
        """Write any bytes; whole chunks go direct by way of an aligned buffer of our own."""
        self._write(memoryview(data), aligned=False)

    def write_aligned(self, data: memoryview) -> None:
        """Write a view whose first byte is page-aligned (a :func:`copy_and_hash` buffer):
        whole blocks of it go direct without being copied first."""
        self._write(data, aligned=True)

    def _write(self, view: memoryview, *, aligned: bool) -> None:
        self.writing = True
        if len(view) >= CHUNK and self.offset % _ALIGN == 0:
            view = self._write_direct(view, aligned)
        if view:
            self._write_buffered(view)
        self.writing = False
        if self.after_chunk is not None:
            self.after_chunk()

    def _write_direct(self, view: memoryview, aligned: bool) -> memoryview:
        """Write the whole blocks at the start of ``view`` directly if possible; returns the
        part still to write."""
        if not self._tried:
            self._tried = True
            self._direct = _Direct.start(self.fd)
        direct = self._direct
        if direct is None:
            return view
        whole = len(view) - len(view) % _ALIGN
        try:
            direct.write(view[:whole], copy=not aligned)
        except OSError as e:
            if e.errno != errno.EINVAL or direct.written:
                raise
            # Accepted, then refused at the first write (alignment the device wants
            # larger): nothing was written, so buffered it is.
            self._stop_direct()
            return view
        self.offset += whole
        return view[whole:]

    def _write_buffered(self, view: memoryview) -> None:
        self._stop_direct()  # a piece that is not whole blocks: buffered from here on
        start = self.offset
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self.offset += n
        if self.offset - start >= CHUNK:
            os.posix_fadvise(self.fd, start, self.offset - start, os.POSIX_FADV_DONTNEED)

    def _stop_direct(self) -> None:
        if self._direct is not None:
            self._direct.stop()
            self._direct = None


class _Direct:
    """Direct writes to ``fd``, from the caller's aligned buffer or through one of ours."""

    def __init__(self, fd: int, flags: int) -> None:
        self.fd = fd
        self.flags = flags
        self.buffer: mmap.mmap | None = None
        self.written = 0

    @classmethod
    def start(cls, fd: int) -> _Direct | None:
        flag = getattr(os, "O_DIRECT", 0)
        if not flag:
            return None
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag)
        except OSError:
            return None
        return cls(fd, flags)

    def write(self, data: memoryview, *, copy: bool) -> None:
        if not copy:
            self._write_all(data)
            return
        if self.buffer is None:
            self.buffer = mmap.mmap(-1, CHUNK)
        buf = memoryview(self.buffer)
        try:
            for i in range(0, len(data), CHUNK):
                piece = data[i : i + CHUNK]
                buf[: len(piece)] = piece
                self._write_all(buf[: len(piece)])
        finally:
            buf.release()

    def _write_all(self, out: memoryview) -> None:
        while out:
            n = os.write(self.fd, out)
            if n % _ALIGN:  # cannot happen on a regular file; never leave a gap
                raise OSError(errno.EIO, "a direct write stopped mid-block")
            out = out[n:]
            self.written += n

    def stop(self) -> None:
        fcntl.fcntl(self.fd, fcntl.F_SETFL, self.flags)
        if self.buffer is not None:
            self.buffer.close()
