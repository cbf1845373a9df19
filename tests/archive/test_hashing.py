"""Streaming copy and hash: the bytes written are the bytes read, whichever way they reach
the disk (direct writes of whole blocks, buffered writes of the rest)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tempfile
from pathlib import Path

import pytest

from archive import hashing
from archive.hashing import CHUNK, copy_and_hash, fd_writer

SHM = Path("/dev/shm")


def _pieces(total: int, sizes: list[int]) -> list[bytes]:
    rng = random.Random(total)
    data = rng.randbytes(total)
    out, i = [], 0
    for size in sizes:
        out.append(data[i : i + size])
        i += size
    out.append(data[i:])
    return [p for p in out if p]


@pytest.mark.parametrize(
    "sizes",
    [
        [CHUNK, CHUNK, 12_345],  # whole chunks direct, an odd tail buffered
        [CHUNK, CHUNK],  # ends on a block boundary: never leaves direct mode
        [CHUNK + 100, CHUNK],  # a chunk that is not whole blocks: buffered from then on
        [5_000, CHUNK, CHUNK],  # starts unaligned: all buffered
        [CHUNK - 4096, CHUNK, 1],  # a short read, then whole chunks again
    ],
)
@pytest.mark.parametrize("where", ["tmp_path", "shm"])
def test_fd_writer_writes_exactly_the_bytes_given(
    sizes: list[int], where: str, tmp_path: Path
) -> None:
    folder = tmp_path
    if where == "shm":
        if not SHM.is_dir():
            pytest.skip("no /dev/shm")
        folder = SHM
    pieces = _pieces(sum(sizes), sizes)
    target = folder / f"copy-{os.getpid()}-{len(sizes)}-{sizes[0]}.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        write = fd_writer(fd)
        for piece in pieces:
            write(piece)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        assert target.read_bytes() == b"".join(pieces)
    finally:
        target.unlink()


def test_copy_and_hash_of_a_large_stream_writes_and_hashes_every_byte(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(3 * CHUNK + 777)
    target = tmp_path / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        got = copy_and_hash(io.BytesIO(data), fd_writer(fd))
    finally:
        os.close(fd)
    assert target.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.sha512 == hashlib.sha512(data).hexdigest()
    assert got.size == len(data)


def test_a_refused_direct_write_falls_back_to_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: object, data: memoryview, *, copy: bool) -> None:
        raise OSError(22, "Invalid argument")  # EINVAL before any byte was written

    monkeypatch.setattr(hashing._Direct, "write", refuse)
    data = random.Random(3).randbytes(2 * CHUNK + 10)
    target = tmp_path / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        write = fd_writer(fd)
        write(data[:CHUNK])
        write(data[CHUNK:])
    finally:
        os.close(fd)
    assert target.read_bytes() == data


@pytest.mark.parametrize("where", ["tmp_path", "shm"])
def test_a_large_file_is_copied_from_the_aligned_buffers_byte_for_byte(
    where: str, tmp_path: Path
) -> None:
    folder = tmp_path
    if where == "shm":
        if not SHM.is_dir():
            pytest.skip("no /dev/shm")
        folder = Path(tempfile.mkdtemp(prefix="constancia-test-", dir=SHM))
    data = random.Random(11).randbytes(5 * CHUNK + 4096 * 3 + 5)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    target = folder / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    chunks: list[int] = []
    try:
        write = hashing.fd_writer(fd, after_chunk=lambda: chunks.append(1))
        with open(source, "rb", buffering=0) as f:
            got = copy_and_hash(f, write)
        assert not write.writing
    finally:
        os.close(fd)
    try:
        assert target.read_bytes() == data
    finally:
        target.unlink()
        if folder != tmp_path:
            folder.rmdir()
    assert got == hashing.Digests.of(data)
    assert len(chunks) == 6


def test_a_failed_write_stops_the_stream_and_the_next_one_is_still_right(
    tmp_path: Path,
) -> None:
    data = random.Random(5).randbytes(4 * CHUNK)
    calls = 0

    def fail_on_third(chunk: memoryview) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        copy_and_hash(io.BytesIO(data), fail_on_third)
    # The buffers went back to be reused: a second stream must not see the first one's bytes.
    other = random.Random(6).randbytes(3 * CHUNK + 1)
    assert copy_and_hash(io.BytesIO(other)) == hashing.Digests.of(other)


def test_streams_on_several_threads_at_once_each_get_their_own_digests() -> None:
    from concurrent.futures import ThreadPoolExecutor

    blobs = [random.Random(seed).randbytes(2 * CHUNK + seed) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: copy_and_hash(io.BytesIO(b)), blobs))
    assert got == [hashing.Digests.of(b) for b in blobs]


def test_a_small_stream_longer_than_one_read_is_hashed_whole() -> None:
    class Trickle(io.RawIOBase):
        """Gives at most 1,000 bytes per read, like a pipe."""

        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            n = min(len(b), 1000, len(self.data))
            b[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    data = random.Random(9).randbytes(12_345)
    assert copy_and_hash(Trickle(data)) == hashing.Digests.of(data)


class _Uneven(io.RawIOBase):
    """A stream that answers each read with a random amount (a pipe, a slow disk): a full
    first chunk, then many small ones, so hash updates follow each other quickly."""

    def __init__(self, data: bytes, seed: int) -> None:
        self.data = memoryview(data)
        self.rng = random.Random(seed)
        self.first = True

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        n = len(b) if self.first else self.rng.randrange(4096, 96 * 1024)
        self.first = False
        n = min(n, len(self.data))
        b[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


def test_each_digest_sees_the_chunks_in_order() -> None:
    # Reads run ahead of hashing by one chunk; each digest must still take them in order.
    data = random.Random(12).randbytes(CHUNK + (12 << 20))
    want = hashing.Digests.of(data)
    for seed in range(3):
        assert copy_and_hash(_Uneven(data, seed)) == want
