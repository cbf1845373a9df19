"""Exporting streams files: a large original never sits whole in memory."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

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
