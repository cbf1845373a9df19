"""`constancia checkpoint` and `constancia audit --since`: an auditor's kept checkpoint, later."""

from __future__ import annotations

import json
from pathlib import Path

from archive import merkle
from archive.checkpoint import Checkpoint, sign_checkpoint
from archive.identity import create_identity, unlock
from archive.store import Archive
from tests.conftest import PASSPHRASE, Run, json_lines


def _keep(run: Run, archive: Path, tmp_path: Path, *extra: str) -> Path:
    kept = tmp_path / "kept-checkpoint.txt"
    result = run("checkpoint", "--archive", archive, *extra)
    assert result.exit_code == 0, result.output
    kept.write_text(result.stdout, encoding="utf-8")
    return kept


def _resign_rewritten_log(archive: Path, home: Path, line: int) -> None:
    """What a dishonest keeper would do: edit an old event and sign a fresh checkpoint."""
    a = Archive.open(archive)
    lines = a.log_path.read_bytes().splitlines()
    lines[line] = lines[line].replace(b'"host":', b'"hostx":')
    a.log_path.write_bytes(b"".join(x + b"\n" for x in lines))
    tree = merkle.TreeBuilder()
    for x in lines:
        tree.append(x)
    cp = Checkpoint(a.settings.origin, tree.size, tree.root())
    key = unlock(PASSPHRASE, home).private_key
    a.checkpoint_path.write_text(sign_checkpoint(cp, a.settings.origin, key), encoding="utf-8")


def test_checkpoint_prints_the_signed_note(run: Run, filled: tuple[Path, list[str]]) -> None:
    archive, _ = filled
    text = run("checkpoint", "--archive", archive).stdout
    assert text.encode() == (archive / "custody" / "checkpoint").read_bytes()
    (doc,) = json_lines(run("checkpoint", "--archive", archive, "--json").stdout)
    assert doc["note"] == text and doc["size"] == int(text.splitlines()[1])


def test_audit_lists_what_was_appended_since(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    kept = _keep(run, archive, tmp_path)
    assert run("verify", "--record", "--archive", archive).exit_code == 0
    result = run("audit", "--since", kept, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    (doc,) = json_lines(result.stdout)
    assert doc["ok"] and doc["appended"] == 1
    assert doc["events"][0]["action"] == "fixity-check"
    assert doc["current"]["size"] == doc["since"]["size"] + 1


def test_audit_accepts_the_json_form_and_an_unchanged_log(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    kept = _keep(run, archive, tmp_path, "--json")
    result = run("audit", "--since", kept, "--archive", archive)
    assert result.exit_code == 0, result.output
    assert "0 events appended since" in result.stdout


def test_rewritten_history_fails_loudly(
    run: Run, home: Path, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    kept = _keep(run, archive, tmp_path)
    _resign_rewritten_log(archive, home, line=2)
    result = run("audit", "--since", kept, "--archive", archive, "--json")
    assert result.exit_code == 1
    codes = {p["code"] for p in json.loads(result.stdout)["problems"]}
    assert codes == {"CHECKPOINT_INCONSISTENT"}


def test_a_log_cut_back_fails(
    run: Run, home: Path, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    kept = _keep(run, archive, tmp_path)
    a = Archive.open(archive)
    a.log_path.write_bytes(b"".join(x + b"\n" for x in a.log_path.read_bytes().splitlines()[:-1]))
    _resign_rewritten_log(archive, home, line=1)
    result = run("audit", "--since", kept, "--archive", archive, "--json")
    assert result.exit_code == 1
    assert "CHECKPOINT_INCONSISTENT" in result.stdout


def test_a_checkpoint_from_another_key_is_not_the_archive_s(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    a = Archive.open(archive)
    other = tmp_path / "other"
    create_identity("Impostor", "pw", other)
    forged = Checkpoint(a.settings.origin, 1, merkle.EMPTY_ROOT)
    kept = tmp_path / "forged.txt"
    kept.write_text(sign_checkpoint(forged, a.settings.origin, unlock("pw", other).private_key))
    result = run("audit", "--since", kept, "--archive", archive, "--json")
    assert result.exit_code == 1
    assert "CHECKPOINT_SIGNATURE_INVALID" in result.stdout


def test_audit_of_something_else_is_a_usage_error(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert run("audit", "--since", junk, "--archive", archive).exit_code == 2
    assert run("audit", "--since", tmp_path / "none", "--archive", archive).exit_code == 2
    text = tmp_path / "text.txt"
    text.write_text("hello\n")
    result = run("audit", "--since", text, "--archive", archive, "--json")
    assert result.exit_code == 1 and "CHECKPOINT_INVALID" in result.stdout
