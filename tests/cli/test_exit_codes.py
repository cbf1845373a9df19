"""Exit codes at the edges: an interrupted command, a writer facing a damaged custody log."""

from __future__ import annotations

import pytest

from archive.store import Archive
from constancia.cli import main


def test_ctrl_c_is_could_not_run(archive, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # Patched on the class, not a module function that other modules bind at import time.
    monkeypatch.setattr(Archive, "open", classmethod(interrupted))
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--archive", str(archive)])
    assert "constancia: interrupted" in capsys.readouterr().err
    assert exit_.value.code == 2


def test_ingest_refuses_a_truncated_log(run, archive, make_files):
    assert run("ingest", make_files({"a.txt": "uno"}), "--archive", archive).exit_code == 0
    log = archive / "custody" / "log.jsonl"
    log.write_bytes(log.read_bytes().splitlines(keepends=True)[0])  # the ingest event deleted
    result = run("ingest", make_files({"b.txt": "dos"}), "--archive", archive)
    assert log.read_bytes().count(b"\n") == 1  # nothing appended to a damaged log
    assert result.exit_code == 2 and "verify" in result.stderr


def test_recorded_check_never_erases_an_old_checkpoint(run, archive, make_files):
    assert run("ingest", make_files({"a.txt": "uno"}), "--archive", archive).exit_code == 0
    log, old = archive / "custody" / "log.jsonl", archive / "custody" / "checkpoints" / "2"
    signed = old.read_bytes()
    log.write_bytes(log.read_bytes().splitlines(keepends=True)[0])  # the ingest event deleted
    assert run("verify", "--record", "--archive", archive).exit_code == 1  # LOG_TRUNCATED
    assert old.read_bytes() == signed
    assert run("verify", "--archive", archive).exit_code == 1
