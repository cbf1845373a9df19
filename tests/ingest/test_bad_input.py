"""Bad input: one plain sentence, the exit code from DESIGN.md, no traceback, archive intact."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.conftest import json_lines


def _plain(result) -> str:
    assert "Traceback" not in result.output
    (first, *_) = [
        line for line in result.stderr.splitlines() if line.startswith("constancia:")
    ] or [result.stderr]
    return first


def _still_verifies(run, archive: Path) -> None:
    assert run("verify", "--archive", archive).exit_code == 0


def test_missing_path(run, archive, tmp_path):
    result = run("ingest", tmp_path / "no-existe", "--archive", archive)
    assert result.exit_code == 2
    assert "no such file or folder" in _plain(result)
    _still_verifies(run, archive)


def test_unreadable_file(run, archive, make_files, monkeypatch):
    src = make_files({"a.txt": "uno", "secreto.txt": "dos"})
    real_open = os.open

    def deny(path, flags, *args, **kw):  # root can read anything: simulate a denied read
        if str(path).endswith("secreto.txt"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(os, "open", deny)
        result = run("ingest", src, "--archive", archive, "--json")
    assert result.exit_code == 1
    by_name = {Path(x["source"]).name: x for x in json_lines(result.stdout)}
    assert by_name["secreto.txt"]["status"] == "rejected"
    assert "cannot be read (Permission denied)" in by_name["secreto.txt"]["error"]
    assert by_name["a.txt"]["status"] == "ingested"
    _still_verifies(run, archive)


@pytest.mark.parametrize(
    ("sidecar", "words"),
    [
        ("", "empty"),
        ("title: [a\n", "line"),
        ("title: !!python/object/apply:os.system ['touch /tmp/constancia-pwned']\n", "tag"),
        ("title: [1, 2]\n", "title"),
        ("date: 11 de septiembre\n", "date"),
    ],
    ids=["empty", "syntax", "python-tag", "wrong-type", "bad-date"],
)
def test_bad_sidecars_reject_the_file(run, archive, make_files, sidecar, words):
    src = make_files({"a.txt": "uno", "a.txt.yaml": sidecar})
    result = run("ingest", src, "--archive", archive, "--json")
    assert result.exit_code == 1
    (line,) = json_lines(result.stdout)
    assert line["status"] == "rejected" and words in line["error"].lower()
    assert "a.txt.yaml" in line["error"]
    assert not Path("/tmp/constancia-pwned").exists()
    _still_verifies(run, archive)


def test_non_utf8_file_name_is_ingested(run, archive, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    name = b"testimonio-\xf1and\xfa.txt"  # Latin-1 bytes, not UTF-8
    (Path(os.fsdecode(os.fsencode(src) + b"/" + name))).write_bytes(b"texto")
    result = run("ingest", src, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    (line,) = json_lines(result.stdout)
    shown = run("show", line["id"], "--archive", archive, "--json")
    import json

    assert json.loads(shown.stdout)["record"]["original"]["name_hex"] == name.hex()
    _still_verifies(run, archive)


def test_symlinks_are_skipped_never_followed(run, archive, make_files, tmp_path):
    outside = tmp_path / "fuera.txt"
    outside.write_text("secreto fuera del árbol")
    src = make_files({"a.txt": "uno"})
    (src / "enlace.txt").symlink_to(outside)
    (src / "carpeta").symlink_to(tmp_path)
    result = run("ingest", src, "--archive", archive, "--json")
    lines = {Path(x["source"]).name: x for x in json_lines(result.stdout)}
    assert lines["enlace.txt"]["status"] == lines["carpeta"]["status"] == "skipped"
    assert "symbolic link" in lines["enlace.txt"]["error"]
    assert lines["a.txt"]["status"] == "ingested" and len(lines) == 3
    assert result.exit_code == 1


def test_path_inside_the_archive_is_refused(run, archive):
    result = run("ingest", archive / "custody", "--archive", archive)
    assert result.exit_code == 2 and "inside the archive" in _plain(result)
    _still_verifies(run, archive)


def test_disk_full_during_copy(run, archive, make_files, monkeypatch):
    from archive import hashing

    src = make_files({"a.txt": "uno", "b.txt": "dos"})
    real = hashing.FdWriter._write_buffered

    def full_disk(self, view):
        if view == b"dos":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, view)

    with monkeypatch.context() as m:
        m.setattr(hashing.FdWriter, "_write_buffered", full_disk)
        result = run("ingest", src, "--archive", archive)
    assert result.exit_code == 2
    assert "disk is full" in _plain(result)
    _still_verifies(run, archive)
    again = json_lines(run("ingest", src, "--archive", archive, "--json").stdout)
    assert [x["status"] for x in again] == ["duplicate", "ingested"]
    assert not any((archive / "tmp").iterdir())


def test_wrong_passphrase(run, archive, make_files):
    src = make_files({"a.txt": "uno"})
    result = run("ingest", src, "--archive", archive, env={"CONSTANCIA_PASSPHRASE": "mala"})
    assert result.exit_code == 2 and "passphrase" in _plain(result)
    _still_verifies(run, archive)


def test_folder_that_is_no_archive(run, tmp_path, make_files):
    src = make_files({"a.txt": "uno"})
    result = run("ingest", src, "--archive", tmp_path)
    assert result.exit_code == 2 and "not a Constancia archive" in _plain(result)
    assert run("verify", "--archive", tmp_path).exit_code == 2


def test_no_archive_anywhere(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("verify")
    assert result.exit_code == 2 and "no archive here" in _plain(result)


def test_ambiguous_and_unknown_id_prefixes(run, archive, make_files):
    src = make_files({"a.txt": "uno"})
    run("ingest", src, "--archive", archive)
    assert run("show", "00000000", "--archive", archive).exit_code == 2
    assert "not an artefact ID" in _plain(run("show", "xyz", "--archive", archive))
