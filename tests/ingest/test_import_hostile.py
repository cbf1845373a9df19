"""Hostile or damaged sources are refused before anything is written: the receiving archive's
bytes stay exactly as they were."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bagit
import pytest

from tests.ingest import import_helpers as h
from tests.ingest.import_helpers import objects, rewrite_content, snapshot

field_home, field_run, field = h.field_home, h.field_run, h.field  # fixtures


def refused(run, archive: Path, source: Path, *extra: str) -> set[str]:
    """Import ``source``; it must be refused (exit 1) with nothing written. Its codes."""
    before = snapshot(archive)
    result = run("import", source, "--archive", archive, "--json", *extra)
    assert result.exit_code == 1, result.output
    assert snapshot(archive) == before
    out = json.loads(result.stdout)
    assert out["ok"] is False and "Traceback" not in result.stderr
    return {p["code"] for p in out["problems"]}


@pytest.fixture
def bag(make_files) -> Path:
    folder = make_files({"acta.txt": "Acta de la reunión.", "sub/foto.txt": "foto"})
    bagit.make_bag(str(folder), {"Source-Organization": "Vicaría de ejemplo"})
    return folder


def _manifest_line(bag: Path, line: str) -> None:
    for alg, size in (("sha256", 64), ("sha512", 128)):
        with open(bag / f"manifest-{alg}.txt", "a") as f:
            f.write(f"{'0' * size}  {line}\n")


def test_a_symbolic_link_in_the_source_is_refused(run, archive, field):
    os.symlink("/etc/passwd", objects(field)[0] / "v1" / "content" / "passwd")
    assert refused(run, archive, field, "--accept-unverified", "hurry") == {"UNEXPECTED_FILE"}


def test_a_device_or_pipe_in_the_source_is_refused(run, archive, field):
    os.mkfifo(field / "keys" / "fifo.pub")
    assert "UNEXPECTED_FILE" in refused(run, archive, field)


def test_a_tampered_original_is_refused_even_when_accepting(run, archive, field):
    original = next((objects(field)[0] / "v1/content/original").iterdir())
    original.chmod(0o644)
    original.write_bytes(original.read_bytes() + b" (editado)")
    codes = refused(run, archive, field, "--accept-unverified", "we trust the courier")
    assert "FIXITY_MISMATCH" in codes


def test_broken_json_is_refused(run, archive, field):
    rewrite_content(objects(field)[0], "record.json", b'{"format": "constancia-record/1", ')
    assert "RECORD_INVALID" in refused(run, archive, field, "--accept-unverified", "x")


def test_an_absurdly_long_log_line_is_refused(run, archive, field, monkeypatch):
    monkeypatch.setattr("archive.import_source.LIMIT_LINE", 100)
    assert "LOG_LINE_INVALID" in refused(run, archive, field)


def test_an_absurdly_large_record_is_refused(run, archive, field, monkeypatch):
    monkeypatch.setattr("archive.source_archive.LIMIT_RECORD", 10)
    assert "UNEXPECTED_FILE" in refused(run, archive, field)


def test_too_many_files_are_refused(run, archive, field, monkeypatch):
    monkeypatch.setattr("archive.import_source.LIMIT_ENTRIES", 20)
    assert refused(run, archive, field)


def test_a_manifest_path_with_dot_dot_is_refused(run, archive, bag):
    _manifest_line(bag, "data/../../../etc/passwd")
    assert "BAG_INVALID" in refused(run, archive, bag)


def test_an_absolute_manifest_path_is_refused(run, archive, bag):
    _manifest_line(bag, "/etc/passwd")
    assert "BAG_INVALID" in refused(run, archive, bag)


def test_a_file_not_in_the_manifest_is_refused(run, archive, bag):
    (bag / "data" / "planted.txt").write_text("not sent by them")
    assert "UNEXPECTED_FILE" in refused(run, archive, bag)


def test_a_manifest_entry_without_its_file_is_refused(run, archive, bag):
    (bag / "data" / "acta.txt").unlink()
    assert "FILE_MISSING" in refused(run, archive, bag)


def test_a_tampered_bag_file_is_refused(run, archive, bag):
    (bag / "data" / "acta.txt").write_text("Acto de la reunión.")  # same size, other bytes
    assert "FIXITY_MISMATCH" in refused(run, archive, bag, "--accept-unverified", "x")


def test_a_symbolic_link_in_a_bag_is_refused(run, archive, bag):
    os.symlink("/etc/hostname", bag / "data" / "link.txt")
    assert "UNEXPECTED_FILE" in refused(run, archive, bag)


def test_an_invalid_signature_is_refused_unless_accepted_with_a_reason(run, archive, field):
    from archive.identity import unlock

    obj = objects(field)[0]
    signer = unlock(h.PASSPHRASE)  # Ana's key signs other bytes: a signature that fails
    rewrite_content(
        obj, "record.json.sig", signer.sign_sshsig(b"other", "constancia-record").encode()
    )
    assert refused(run, archive, field) == {"SIGNATURE_INVALID"}
    result = run(
        "import", field, "--archive", archive, "--accept-unverified", "key lost; seen by CV"
    )
    assert result.exit_code == 0, result.output
    last = json.loads((archive / "custody/log.jsonl").read_bytes().splitlines()[-1])
    assert last["details"]["accepted_unverified"] == {
        "reason": "key lost; seen by CV",
        "problems": ["SIGNATURE_INVALID"],
    }
