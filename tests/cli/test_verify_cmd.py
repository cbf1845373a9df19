"""`constancia verify`: the recorded check, and proof that a plain verify only reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import json_lines


@pytest.fixture
def filled(run, archive, make_files) -> Path:
    src = make_files({"uno.txt": "primer testimonio", "dos.txt": "segundo testimonio"})
    assert run("ingest", src, "--archive", archive).exit_code == 0
    return archive


def _events(archive: Path) -> list[dict]:
    return json_lines((archive / "custody" / "log.jsonl").read_text())


def test_record_appends_one_fixity_check_and_signs_a_checkpoint(run, filled):
    before = len(_events(filled))
    result = run("verify", "--record", "--archive", filled)
    assert result.exit_code == 0, result.output
    events = _events(filled)
    assert len(events) == before + 1
    assert events[-1]["action"] == "fixity-check" and events[-1]["details"]["outcome"] == "pass"
    assert (filled / "custody" / "checkpoints" / str(before + 1)).is_file()
    assert (filled / "custody" / "checkpoint").read_text().split("\n")[1] == str(before + 1)
    assert run("verify", "--archive", filled).exit_code == 0


def test_record_of_a_failing_check_counts_the_codes(run, filled):
    original = next(p for p in (filled / "objects").rglob("original/uno.txt"))
    (original.parent / "plantado.txt").write_text("no estaba")
    result = run("verify", "--record", "--archive", filled, "--json")
    assert result.exit_code == 1
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == ["UNEXPECTED_FILE"]
    details = _events(filled)[-1]["details"]
    assert (details["outcome"], details["problems"]) == ("fail", 1)
    assert details["codes"] == {"UNEXPECTED_FILE": 1}


def _snapshot(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    out = {}
    for p in [root, *sorted(root.rglob("*"))]:
        st = p.lstat()
        data = p.read_bytes() if p.is_file() else None
        out[str(p.relative_to(root))] = (data, st.st_mtime_ns, st.st_mode)
    return out


def test_verify_only_reads_and_needs_no_key(run, filled, tmp_path, monkeypatch):
    copy = tmp_path / "media"
    shutil.copytree(filled, copy)
    (copy / "lock").unlink()
    for p in [*copy.rglob("*"), copy]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    monkeypatch.setenv("CONSTANCIA_HOME", str(tmp_path / "nobody"))
    monkeypatch.delenv("CONSTANCIA_PASSPHRASE")
    before = _snapshot(copy)
    result = run("verify", "--archive", copy, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert _snapshot(copy) == before
    assert not (tmp_path / "nobody").exists()
