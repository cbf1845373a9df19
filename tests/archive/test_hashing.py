"""Streaming copy and hash: the bytes written are the bytes read, whichever way they reach
the disk (direct writes of whole blocks, buffered writes of the rest)."""

from __future__ import annotations

import hashlib
import io
import os
import random
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
    def refuse(self: object, data: memoryview) -> None:
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
