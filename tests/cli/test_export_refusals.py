"""`constancia export` refuses plainly and leaves nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import Archive
from tests.conftest import Run


def test_existing_destination_is_never_written_over(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, ids = filled
    (tmp_path / "taken").mkdir()
    result = run("export", ids[0], "--to", tmp_path / "taken", "--archive", archive)
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_package_inside_the_archive_is_refused(run: Run, filled: tuple[Path, list[str]]) -> None:
    archive, ids = filled
    result = run("export", ids[0], "--to", archive / "pkg", "--archive", archive)
    assert result.exit_code == 2
    assert not (archive / "pkg").exists()


def test_nothing_to_export_is_a_usage_error(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    assert run("export", "--to", tmp_path / "p", "--archive", archive).exit_code == 2
    no_hits = run("export", "--query", "zzzqqq", "--to", tmp_path / "p", "--archive", archive)
    assert no_hits.exit_code == 2
    assert not (tmp_path / "p").exists()


def test_damaged_original_is_not_exported(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])
    (original,) = (obj / "v1" / "content" / "original").iterdir()
    original.chmod(0o644)
    original.write_bytes(original.read_bytes().replace(b"a", b"o", 1))
    result = run("export", ids[1], "--to", tmp_path / "p", "--archive", archive)
    assert result.exit_code == 2
    assert "verify" in result.stderr
    assert list(tmp_path.glob("*p*")) == []  # neither the package nor a partial one


def test_only_the_custodian_exports(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, ids = filled
    other = tmp_path / "other-home"
    env = {"CONSTANCIA_HOME": str(other)}
    assert run("identity", "create", "--name", "Otro", env=env).exit_code == 0
    result = run("export", ids[0], "--to", tmp_path / "p", "--archive", archive, env=env)
    assert result.exit_code == 2
    assert "custodian" in result.stderr


def test_verify_package_of_a_plain_bag_says_what_it_is(run: Run, tmp_path: Path) -> None:
    import bagit

    bag = tmp_path / "plain"
    bag.mkdir()
    (bag / "nota.txt").write_text("Nota ficticia.\n")
    bagit.make_bag(str(bag))
    result = run("verify-package", bag)
    assert result.exit_code == 1
    assert "not a Constancia evidence package" in result.stderr
    assert run("verify-package", tmp_path / "nowhere").exit_code == 2


def test_a_full_disk_is_one_sentence_and_no_export_event(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import archive.export

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    archive_path, ids = filled
    monkeypatch.setattr(archive.export, "copy_and_hash", full)
    result = run("export", ids[0], "--to", tmp_path / "p", "--archive", archive_path)
    assert result.exit_code == 2
    assert "the disk is full" in result.stderr
    assert list(tmp_path.glob("*p*")) == []
    assert "exported" not in run("log", "--archive", archive_path).stdout
