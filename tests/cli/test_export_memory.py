"""Exporting streams files: a large original never sits whole in memory."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from archive.export import export_package
from archive.identity import unlock
from archive.store import Archive
from tests.conftest import PASSPHRASE, Run, json_lines


def test_a_large_original_is_streamed(run: Run, archive: Path, home: Path, tmp_path: Path) -> None:
    size = 64 << 20
    big = tmp_path / "in" / "grabacion.bin"
    big.parent.mkdir()
    big.write_bytes(os.urandom(size))
    (ingested,) = json_lines(run("ingest", big, "--archive", archive, "--json", "-q").stdout)
    signer = unlock(PASSPHRASE, home)
    tracemalloc.start()
    try:
        export_package(Archive.open(archive), signer, [ingested["id"]], tmp_path / "pkg")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20  # a few read chunks, not the 64 MiB file
    copied = tmp_path / "pkg" / "data" / "artefacts" / ingested["id"] / "original" / big.name
    assert copied.read_bytes() == big.read_bytes()


def _with_a_large_one(run: Run, archive: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """An archive holding small testimonies and, between them in ID order, a 6 MiB
    recording: the recording streams in the background while the others are copied."""
    src = tmp_path / "in"
    src.mkdir()
    for n in range(6):
        (src / f"t{n}.txt").write_text(f"Testimonio ficticio número {n}.\n" * 50)
    big = src / "grabacion.bin"
    big.write_bytes(os.urandom(6 << 20))
    lines = json_lines(run("ingest", src, "--archive", archive, "--json", "-q").stdout)
    return [x["id"] for x in lines], big


def test_a_large_original_among_small_ones_travels_whole(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    import bagit

    ids, big = _with_a_large_one(run, archive, tmp_path)
    to = tmp_path / "pkg"
    result = run("export", *ids, "--to", to, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    copied = next(to.glob(f"data/artefacts/*/original/{big.name}"))
    assert copied.read_bytes() == big.read_bytes()
    bagit.Bag(str(to)).validate()  # every file, both manifests
    checked = run("verify-package", to, "--json")
    assert checked.exit_code == 0, checked.output


def test_a_large_original_damaged_on_disk_stops_the_export(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    ids, big = _with_a_large_one(run, archive, tmp_path)
    (stored,) = archive.glob(f"objects/**/original/{big.name}")
    stored.chmod(0o644)
    with open(stored, "r+b") as f:
        f.seek(5 << 20)
        f.write(b"\x00changed\x00")
    to = tmp_path / "pkg"
    result = run("export", *ids, "--to", to, "--archive", archive)
    assert result.exit_code == 2
    assert "no longer matches its inventory" in result.stderr
    assert "Traceback" not in result.stderr
    # no package, no partial one:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "home", "in"]
    assert "exported" not in run("log", "--archive", archive).stdout


def test_a_disk_filling_up_during_the_large_stream_is_one_sentence(
    run: Run, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from archive import hashing

    ids, _ = _with_a_large_one(run, archive, tmp_path)
    real = hashing.FdWriter.write_aligned
    calls = 0

    def full(self: hashing.FdWriter, data: memoryview) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second 4 MiB chunk of the recording
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, data)

    monkeypatch.setattr(hashing.FdWriter, "write_aligned", full)
    result = run("export", *ids, "--to", tmp_path / "pkg", "--archive", archive)
    assert result.exit_code == 2
    assert "the disk is full" in result.stderr and "Traceback" not in result.stderr
    assert calls == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "home", "in"]
    assert "exported" not in run("log", "--archive", archive).stdout


def test_many_large_originals_do_not_run_out_of_open_files(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    # Each large file waiting for the background thread holds two open files; an export
    # of hundreds of recordings must not hold them all at once. Here: 40 files of 2 MiB
    # under a limit of 32 open files for the whole process.
    import resource
    import subprocess
    import sys

    src = tmp_path / "in"
    src.mkdir()
    for n in range(40):
        (src / f"grabacion-{n:02}.bin").write_bytes(os.urandom((2 << 20) + 4096 * n))
    lines = json_lines(run("ingest", src, "--archive", archive, "--json", "-q").stdout)
    ids = [x["id"] for x in lines]

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

    to = tmp_path / "pkg"
    done = subprocess.run(
        [sys.executable, "-m", "constancia", "export", *ids, "--to", to, "--archive", archive],
        capture_output=True,
        text=True,
        preexec_fn=few_files,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for f in src.iterdir():
        (copied,) = to.glob(f"data/artefacts/*/original/{f.name}")
        assert copied.read_bytes() == f.read_bytes()
