"""The archive folder: creation, finding it, ID prefixes, the lock."""

from __future__ import annotations

import pytest

from archive.store import Archive
from constancia.errors import ArchiveBusy, UsageError


def test_init_lays_out_the_folder(archive):
    names = {p.name for p in archive.iterdir()}
    assert {"constancia.yaml", "objects", "custody", "keys"} <= names
    assert (archive / "objects" / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    assert [p.name for p in (archive / "custody" / "checkpoints").iterdir()] == ["1"]
    (event,) = (archive / "custody" / "log.jsonl").read_bytes().splitlines()
    assert b'"action":"key-registered"' in event and b'"role":"custodian"' in event
    assert len(list((archive / "keys").glob("*.pub"))) == 1


def test_init_refuses_a_folder_with_files(run, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "algo.txt").write_text("x")
    result = run("init", tmp_path / "x")
    assert result.exit_code == 2 and "not an empty folder" in result.stderr


def test_ambiguous_prefix_lists_candidates(archive, monkeypatch):
    arch = Archive.open(archive)
    ids = ["abcdef01" + "0" * 56, "abcdef01" + "1" * 56]
    monkeypatch.setattr(Archive, "artefact_ids", lambda self: ids)
    with pytest.raises(UsageError, match="ambiguous: 2 artefacts") as e:
        arch.resolve_id("abcdef01")
    assert "abcdef0100000000" in str(e.value)
    assert arch.resolve_id("abcdef011") == ids[1]


def test_lock_excludes_a_second_writer(archive):
    arch = Archive.open(archive)
    waited: list[str] = []
    other = Archive.open(archive)
    with arch.lock(wait=0), pytest.raises(ArchiveBusy), other.lock(0.3, on_wait=waited.append):
        pass
    assert waited and "waiting" in waited[0]
    with arch.lock(wait=0):  # released: free again
        pass
