"""Our OCFL checker: one finding code per kind of damage, and ocfl-py rejects the same objects."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.findings import Code, Finding
from archive.ocfl import (
    FileEntry,
    add_version,
    content_path,
    init_storage_root,
    object_path,
    write_new_object,
)
from archive.ocfl_check import check_object, check_storage_root, list_object_dirs

VALIDATOR = shutil.which("ocfl-validate.py") or str(
    Path(sys.executable).parent / "ocfl-validate.py"
)
WHEN: dict[str, Any] = {
    "message": "Ingest",
    "user_name": "Ana",
    "user_address": "mailto:ana@example.org",
}
ORIGINAL = "v1/content/original/Testimonio ñ.txt"


def put(obj: Path, version: int, logical: str, data: bytes) -> FileEntry:
    path = obj / content_path(version, logical)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return FileEntry(logical, hashlib.sha512(data).hexdigest(), hashlib.sha256(data).hexdigest())


def make(root: Path, data: bytes, *, v2: bool = False) -> tuple[Path, str, str]:
    """An object (v1: original, record, signature; optionally a v2 record) and its id, rel."""
    aid = hashlib.sha256(data).hexdigest()
    obj = root / object_path(f"urn:sha256:{aid}")
    files = [
        put(obj, 1, "original/Testimonio ñ.txt", data),
        put(obj, 1, "record.json", b'{"v": 1}'),
        put(obj, 1, "record.json.sig", b"sig"),
    ]
    write_new_object(obj, f"urn:sha256:{aid}", files, created="2024-01-01T00:00:00Z", **WHEN)
    if v2:
        files = [put(obj, 2, "record.json", b'{"v": 2}')]
        add_version(obj, files, created="2024-02-01T00:00:00Z", **WHEN)
    return obj, aid, "objects/" + object_path(f"urn:sha256:{aid}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_storage_root(tmp_path / "objects")
    return tmp_path / "objects"


def codes(findings: list[Finding]) -> set[Code]:
    return {f.code for f in findings}


def ocfl_py_rejects(obj: Path) -> bool:
    """ocfl-py's verdict: an [Exxx] error, or "Bad path" when the declaration is gone."""
    done = subprocess.run([sys.executable, VALIDATOR, str(obj)], capture_output=True, text=True)
    verdict = "[E" in done.stdout or "no 0= declaration file" in done.stdout
    return done.returncode == 1 and verdict and "Traceback" not in done.stderr


def edit_inventory(obj: Path, name: str = "inventory.json") -> None:
    inv = json.loads((obj / name).read_text())
    inv["versions"]["v1"]["message"] = "Nothing happened here"
    (obj / name).write_text(json.dumps(inv))


def edit_both(obj: Path) -> None:
    edit_inventory(obj)
    edit_inventory(obj, "v1/inventory.json")


Tamper = Callable[[Path], object]
TAMPERING: list[tuple[str, Tamper, set[Code]]] = [
    ("byte changed", lambda o: (o / ORIGINAL).write_bytes(b"Testimonio alterado"),
     {Code.FIXITY_MISMATCH}),
    ("content deleted", lambda o: (o / ORIGINAL).unlink(), {Code.FILE_MISSING}),
    ("file planted in content", lambda o: (o / "v1/content/original/x").write_bytes(b""),
     {Code.UNEXPECTED_FILE}),
    ("file planted at top", lambda o: (o / "notes.txt").write_bytes(b"x"), {Code.UNEXPECTED_FILE}),
    ("file planted in v1", lambda o: (o / "v1/extra").write_bytes(b"x"), {Code.UNEXPECTED_FILE}),
    ("inventory edited", edit_inventory,
     {Code.INVENTORY_DIGEST_MISMATCH, Code.INVENTORY_INVALID}),  # and root != v1 copy
    ("both inventories edited", edit_both, {Code.INVENTORY_DIGEST_MISMATCH}),
    ("JSON broken", lambda o: (o / "inventory.json").write_bytes(b'{"id": "urn:'),
     {Code.INVENTORY_INVALID, Code.INVENTORY_DIGEST_MISMATCH}),
    ("sidecar deleted", lambda o: (o / "inventory.json.sha512").unlink(),
     {Code.INVENTORY_DIGEST_MISMATCH}),
    ("inventory deleted", lambda o: (o / "inventory.json").unlink(), {Code.INVENTORY_MISSING}),
    ("namaste removed", lambda o: (o / "0=ocfl_object_1.1").unlink(), {Code.OBJECT_INVALID}),
    ("v1 folder renamed", lambda o: (o / "v1").rename(o / "v7"),
     {Code.OBJECT_INVALID, Code.FILE_MISSING}),
]  # fmt: skip


@pytest.mark.parametrize(("tamper", "expected"), [t[1:] for t in TAMPERING],
                         ids=[t[0] for t in TAMPERING])  # fmt: skip
def test_each_kind_of_damage_has_its_code_and_ocfl_py_agrees(
    root: Path, tamper: Tamper, expected: set[Code]
) -> None:
    obj, aid, rel = make(root, b"Testimonio de Ana")
    assert check_object(obj, object_id=f"urn:sha256:{aid}", rel=rel) == []
    tamper(obj)
    findings = check_object(obj, object_id=f"urn:sha256:{aid}", rel=rel)
    assert codes(findings) == expected
    assert all(f.id == aid and f.path and f.path.startswith(rel) for f in findings)
    assert ocfl_py_rejects(obj)


def test_findings_name_the_file(root: Path) -> None:
    obj, _, rel = make(root, b"x")
    (obj / ORIGINAL).write_bytes(b"y")
    (obj / "v1/content/record.json").unlink()
    found = {(f.code, f.path) for f in check_object(obj, object_id=None, rel=rel)}
    assert found == {
        (Code.FIXITY_MISMATCH, f"{rel}/{ORIGINAL}"),  # sha512 and sha256 both differ
        (Code.FILE_MISSING, f"{rel}/v1/content/record.json"),
    }


def test_a_prior_version_inventory_is_checked(root: Path) -> None:
    obj, _, rel = make(root, b"x", v2=True)
    assert check_object(obj, object_id=None, rel=rel) == []
    edit_inventory(obj, "v1/inventory.json")  # ocfl-py: E060 on v1's sidecar
    assert codes(check_object(obj, object_id=None, rel=rel)) == {Code.INVENTORY_DIGEST_MISMATCH}
    assert ocfl_py_rejects(obj)


def test_wrong_id_and_wrong_place_are_reported(root: Path) -> None:
    obj, _, rel = make(root, b"x")
    other = f"urn:sha256:{'0' * 64}"
    found = check_object(obj, object_id=other, rel=rel)
    assert codes(found) == {Code.INVENTORY_INVALID} and found[0].id == "0" * 64
    moved = root / object_path(other)
    moved.parent.mkdir(parents=True)
    obj.rename(moved)
    assert codes(check_object(moved, object_id=None, rel="m")) == {Code.OBJECT_INVALID}


def test_check_digests_false_only_reads_the_structure(root: Path) -> None:
    obj, _, rel = make(root, b"x")
    (obj / ORIGINAL).write_bytes(b"y")
    assert check_object(obj, object_id=None, rel=rel, check_digests=False) == []


def test_storage_root_listing_and_hierarchy(root: Path) -> None:
    objs = sorted(make(root, bytes([i]), v2=i == 0)[0] for i in range(3))
    assert sorted(list_object_dirs(root)) == objs
    assert check_storage_root(root) == []
    (objs[0].parent / "stray.txt").write_bytes(b"x")
    (root / "abc" / "def").mkdir(parents=True)
    found = {(f.code, f.path) for f in check_storage_root(root)}
    stray = objs[0].parent.relative_to(root).as_posix() + "/stray.txt"
    assert found == {
        (Code.UNEXPECTED_FILE, f"objects/{stray}"),
        (Code.OBJECT_INVALID, "objects/abc/def"),
    }


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    root = tmp_path_factory.mktemp("mutate") / "objects"
    init_storage_root(root)
    obj = make(root, b"original bytes", v2=True)[0]
    return obj, (obj / "inventory.json").read_bytes()


def _mutate(value: object, path: list[int], new: object) -> object:
    """Replace the node that ``path`` leads to (indices taken modulo the children) by ``new``."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    value[key] = _mutate(value[key], path[1:], new)
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.sampled_from(["v1", "v0", "v3"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_check_object_never_raises_on_a_mutated_inventory(
    sample: tuple[Path, bytes], data: st.DataObject
) -> None:
    obj, good = sample
    if data.draw(st.booleans()):
        inv = json.loads(good)
        path = data.draw(st.lists(st.integers(0, 50), max_size=6))
        mutated = json.dumps(_mutate(inv, path, data.draw(json_values))).encode()
    else:
        at = data.draw(st.integers(0, len(good)))
        cut = data.draw(st.integers(0, 8))
        mutated = good[:at] + data.draw(st.binary(max_size=8)) + good[at + cut :]
    try:
        (obj / "inventory.json").write_bytes(mutated)
        findings = check_object(obj, object_id=None, rel="o")
    finally:
        (obj / "inventory.json").write_bytes(good)
    assert all(isinstance(f, Finding) for f in findings)
    assert (findings == []) == (mutated == good)


def test_a_symbolic_link_is_refused_even_to_the_right_bytes(root: Path, tmp_path: Path) -> None:
    obj, _, rel = make(root, b"x")
    (tmp_path / "elsewhere").write_bytes(b"x")
    (obj / ORIGINAL).unlink()
    (obj / ORIGINAL).symlink_to(tmp_path / "elsewhere")
    assert codes(check_object(obj, object_id=None, rel=rel)) == {Code.OBJECT_INVALID}
