"""`constancia export` refuses plainly and leaves nothing half-written."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    real = archive.export._Copier.copy
    calls = 0

    def full(self: Any, src: str, rel: str, done: Any, failed: Any) -> None:
        """The third file fills the disk half-way through."""
        nonlocal calls
        calls += 1
        if calls == 3:
            (self.work / rel).write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, src, rel, done, failed)

    archive_path, ids = filled
    monkeypatch.setattr(archive.export._Copier, "copy", full)
    result = run("export", ids[0], "--to", tmp_path / "p", "--archive", archive_path)
    assert result.exit_code == 2
    assert "the disk is full" in result.stderr
    assert list(tmp_path.glob("*p*")) == []
    assert "exported" not in run("log", "--archive", archive_path).stdout


def _rewrite_inventory(obj: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit an object's inventory and its sidecar consistently: what someone with write
    access to the disk could do; only the signed record and the log would give it away."""
    inv_path = obj / "inventory.json"
    inv = json.loads(inv_path.read_bytes())
    edit(inv)
    data = json.dumps(inv, indent=2, sort_keys=True).encode() + b"\n"
    for name in ("inventory.json", "v1/inventory.json"):
        if (obj / name).exists():
            (obj / name).chmod(0o644)
            (obj / name).write_bytes(data)
    for side in ("inventory.json.sha512", "v1/inventory.json.sha512"):
        if (obj / side).exists():
            (obj / side).chmod(0o644)
            (obj / side).write_text(f"{hashlib.sha512(data).hexdigest()} inventory.json\n")


def _original_logical(inv: dict[str, Any]) -> tuple[str, str]:
    state = inv["versions"][inv["head"]]["state"]
    for digest, paths in state.items():
        for p in paths:
            if p.startswith("original/"):
                return digest, p
    raise AssertionError("no original in the state")


@pytest.mark.parametrize(
    "logical",
    ["original/../../../../../../escaped.txt", "/tmp/escaped.txt", "original//x", "./x"],
)
def test_an_inventory_naming_a_path_outside_the_package_is_refused(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path, logical: str
) -> None:
    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])

    def edit(inv: dict[str, Any]) -> None:
        digest, old = _original_logical(inv)
        paths = inv["versions"][inv["head"]]["state"][digest]
        paths[paths.index(old)] = logical

    _rewrite_inventory(obj, edit)
    dest = tmp_path / "deep" / "er"
    dest.parent.mkdir()
    result = run("export", ids[1], "--to", dest, "--archive", archive)
    assert result.exit_code == 2, result.output
    assert "verify" in result.stderr and "Traceback" not in result.stderr
    assert list(dest.parent.iterdir()) == []  # neither the package nor a partial one
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not Path("/tmp/escaped.txt").exists()
    assert "exported" not in run("log", "--archive", archive).stdout


def test_an_inventory_pointing_at_content_outside_the_object_is_refused(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the package\n")
    digest512 = hashlib.sha512(secret.read_bytes()).hexdigest()
    digest256 = hashlib.sha256(secret.read_bytes()).hexdigest()
    outside = os.path.relpath(secret, obj)

    def edit(inv: dict[str, Any]) -> None:
        old_digest, logical = _original_logical(inv)
        state = inv["versions"][inv["head"]]["state"]
        state[old_digest].remove(logical)
        if not state[old_digest]:
            del state[old_digest]
        state[digest512] = [logical]
        inv["manifest"][digest512] = [outside]
        inv.setdefault("fixity", {}).setdefault("sha256", {})[digest256] = [outside]

    _rewrite_inventory(obj, edit)
    result = run("export", ids[1], "--to", tmp_path / "p", "--archive", archive)
    assert result.exit_code == 2, result.output
    assert "verify" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p").exists()
    leaked = [
        p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"not for the package\n"
    ]
    assert leaked == [secret]


def test_an_inventory_swapping_the_original_for_another_file_is_refused(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    # Every digest in the inventory stays true to the bytes it names; only the signed
    # record can tell that the file called the original is not the one ingested.
    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])

    def edit(inv: dict[str, Any]) -> None:
        state = inv["versions"][inv["head"]]["state"]
        digest, logical = _original_logical(inv)
        state[digest].remove(logical)
        if not state[digest]:
            del state[digest]
        record_digest = next(d for d, paths in state.items() if "record.json" in paths)
        state[record_digest].append(logical)

    _rewrite_inventory(obj, edit)
    result = run("export", ids[1], "--to", tmp_path / "p", "--archive", archive)
    assert result.exit_code == 2, result.output
    assert "differs from its signed record" in result.stderr
    assert list(tmp_path.glob("*p*")) == []
    assert "exported" not in run("log", "--archive", archive).stdout


def test_a_file_the_signed_record_does_not_name_is_not_exported(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    # A file added to the object with a true digest: the recipient's check would report it
    # (UNEXPECTED_FILE), so export refuses it first.
    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])
    planted = b"a note nobody signed\n"
    (obj / "v1" / "content" / "notes.txt").write_bytes(planted)

    def edit(inv: dict[str, Any]) -> None:
        d512 = hashlib.sha512(planted).hexdigest()
        inv["manifest"][d512] = ["v1/content/notes.txt"]
        inv["fixity"]["sha256"][hashlib.sha256(planted).hexdigest()] = ["v1/content/notes.txt"]
        inv["versions"][inv["head"]]["state"][d512] = ["notes.txt"]

    _rewrite_inventory(obj, edit)
    result = run("export", ids[1], "--to", tmp_path / "p", "--archive", archive)
    assert result.exit_code == 2, result.output
    assert "notes.txt, which its signed record does not name" in result.stderr
    assert not (tmp_path / "p").exists()


def test_a_fifo_in_place_of_a_file_is_refused_without_waiting(
    filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    # Opening a FIFO for reading waits for a writer: export must refuse it instead.
    import subprocess
    import sys

    archive, ids = filled
    obj = Archive.open(archive).object_dir(ids[1])
    (record,) = obj.glob("v*/content/record.json.sig")
    record.unlink()
    os.mkfifo(record)
    argv = [sys.executable, "-m", "constancia", "export", ids[1], "--to", tmp_path / "p"]
    done = subprocess.run(
        [*argv, "--archive", archive],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "p").exists()
