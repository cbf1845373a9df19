"""OCFL writing: the layout's published vectors, exact bytes, ocfl-py's verdict on our objects."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import ocfl as ocfl_py  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ocfl.layout_registry import get_layout  # type: ignore[import-untyped]

from archive.findings import Code
from archive.ocfl import (
    FileEntry,
    add_version,
    content_path,
    head_state,
    init_storage_root,
    needs_content,
    object_path,
    read_inventory,
    roll_back_incomplete_version,
    safe_logical_name,
    version_state,
    write_new_object,
)
from archive.ocfl_check import check_object
from constancia.errors import FormatError, StorageError

VALIDATOR = shutil.which("ocfl-validate.py") or str(
    Path(sys.executable).parent / "ocfl-validate.py"
)
WHO: dict[str, Any] = {"user_name": "Ana Pérez", "user_address": "mailto:ana@example.org"}
V1: dict[str, Any] = {"created": "2024-05-01T12:00:00Z", "message": "Ingest", **WHO}
V2: dict[str, Any] = {
    "created": "2024-06-01T12:00:00.5+02:00",
    "message": "Metadata correction",
    **WHO,
}
HOSTILE = [
    "Testimonio de María (1976).pdf",
    "../../etc/passwd",
    "\x00\x01bad\nname\t.txt",
    os.fsdecode(b"caf\xe9 latin-1.txt"),
    "CON.txt",
    ".hidden",
    "",
    "a" * 300 + ".wav",
    "ñ" * 150 + ".jpg",
    "evil\u202etxt.exe",
    "日本語 😀.png",
    "trailing dots. . .",
    "e\u0301 decomposed.txt",
    'Windows <>:"|?* chars\\sep.doc',
]


def ocfl_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, VALIDATOR, *map(str, paths)], capture_output=True, text=True, check=False
    )


def assert_valid(*paths: Path) -> None:
    done = ocfl_validate(*paths)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[E" not in done.stdout and "[W" not in done.stdout, done.stdout


def put(object_dir: Path, version: int, logical: str, data: bytes) -> FileEntry:
    path = object_dir / content_path(version, logical)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return FileEntry(logical, hashlib.sha512(data).hexdigest(), hashlib.sha256(data).hexdigest())


def make_object(root: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Build an object in a staging folder, then rename it into place (as ingest does)."""
    oid = "urn:sha256:" + hashlib.sha256(data).hexdigest()
    stage = root.parent / "tmp" / hashlib.sha256(oid.encode()).hexdigest()
    files = [
        put(stage, 1, "original/" + safe_logical_name(name), data),
        put(stage, 1, "record.json", json.dumps({"name": name[:10]}).encode()),
        put(stage, 1, "record.json.sig", b"-----BEGIN SSH SIGNATURE-----\n" + data[:8]),
    ]
    write_new_object(stage, oid, files, **V1)
    final = root / object_path(oid)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage.rename(final)
    return final, oid


def new_record(object_dir: Path, n: int, record: bytes) -> int:
    files = [put(object_dir, n, "record.json", record), put(object_dir, n, "record.json.sig", b"s")]
    return add_version(object_dir, files, **V2)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_storage_root(tmp_path / "objects")
    return tmp_path / "objects"


@pytest.mark.parametrize(
    ("object_id", "expected"),
    [  # Extension 0003's own examples (default parameters) and its Python test vectors.
        ("object-01", "3c0/ff4/240/object-01"),
        ("..hor/rib:le-$id", "487/326/d8c/%2e%2ehor%2frib%3ale-%24id"),
        ("..Hor/rib:lè-$id", "373/529/21a/%2e%2eHor%2frib%3al%c3%a8-%24id"),
        (
            "abcdefghij" * 26,
            "55b/432/806/" + "abcdefghij" * 10 + "-"
            "55b432806f4e270da0cf23815ed338742179002153cd8d896f23b3e2d8a14359",
        ),
        (
            "abcdefghij" * 10 + "a",
            "5cc/73e/648/" + "abcdefghij" * 10 + "-"
            "5cc73e648fbcff136510e330871180922ddacf193b68fdeff855683a01464220",
        ),
    ],
)
def test_object_path_matches_the_extension_examples(object_id: str, expected: str) -> None:
    assert object_path(object_id) == expected


@given(st.text(min_size=1))
def test_object_path_agrees_with_ocfl_py(object_id: str) -> None:
    layout = get_layout("0003-hash-and-id-n-tuple-storage-layout")
    assert object_path(object_id) == layout.identifier_to_path(object_id)


def test_storage_root_files_are_exact(root: Path) -> None:
    assert (root / "0=ocfl_1.1").read_bytes() == b"ocfl_1.1\n"
    config = json.loads(
        (root / "extensions/0003-hash-and-id-n-tuple-storage-layout/config.json").read_text()
    )
    assert config == {
        "extensionName": "0003-hash-and-id-n-tuple-storage-layout",
        "digestAlgorithm": "sha256",
        "tupleSize": 3,
        "numberOfTuples": 3,
    }
    assert (
        json.loads((root / "ocfl_layout.json").read_text())["extension"] == config["extensionName"]
    )
    store = ocfl_py.StorageRoot(root=str(root))
    store.open_root_fs()
    store.check_root_structure()  # ocfl-py reads our layout files and maps ids the same way
    assert store.object_path("urn:sha256:" + "ab" * 32) == object_path("urn:sha256:" + "ab" * 32)
    with pytest.raises(StorageError):
        init_storage_root(root)


def test_ocfl_py_accepts_objects_with_hostile_names_an_empty_file_and_a_v2(root: Path) -> None:
    dirs = [make_object(root, name, f"bytes of {i}".encode()) for i, name in enumerate(HOSTILE)]
    dirs.append(make_object(root, "vacío.txt", b""))
    assert new_record(dirs[0][0], 2, b'{"corrected": true}') == 2
    assert_valid(*(d for d, _ in dirs))
    assert_valid(root)
    assert all(check_object(d, object_id=oid, rel="objects/x") == [] for d, oid in dirs)


def test_inventory_sidecar_and_declaration_bytes(root: Path) -> None:
    obj, oid = make_object(root, "a.txt", b"hello")
    data = (obj / "inventory.json").read_bytes()
    inv = json.loads(data)
    assert data == (json.dumps(inv, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    assert (obj / "inventory.json.sha512").read_bytes() == (
        hashlib.sha512(data).hexdigest() + " inventory.json\n"
    ).encode()
    assert (obj / "v1/inventory.json").read_bytes() == data
    assert (obj / "v1/inventory.json.sha512").read_bytes() == (
        obj / "inventory.json.sha512"
    ).read_bytes()
    assert (obj / "0=ocfl_object_1.1").read_bytes() == b"ocfl_object_1.1\n"
    assert inv["id"] == oid and inv["digestAlgorithm"] == "sha512" and inv["head"] == "v1"
    assert inv["fixity"]["sha256"][hashlib.sha256(b"hello").hexdigest()] == [
        "v1/content/original/a.txt"
    ]


def test_a_new_version_stores_only_new_content(root: Path) -> None:
    obj, _ = make_object(root, "a.txt", b"hello")
    assert not needs_content(obj, hashlib.sha512(b"hello").hexdigest())
    assert needs_content(obj, hashlib.sha512(b"new record").hexdigest())
    same = FileEntry(
        "copy/a.txt", hashlib.sha512(b"hello").hexdigest(), hashlib.sha256(b"hello").hexdigest()
    )
    files = [put(obj, 2, "record.json", b"new record"), same]
    assert add_version(obj, files, **V2) == 2
    assert sorted(p.name for p in (obj / "v2/content").rglob("*")) == ["record.json"]
    inv = read_inventory(obj)
    assert head_state(inv) == {
        "original/a.txt": "v1/content/original/a.txt",
        "copy/a.txt": "v1/content/original/a.txt",
        "record.json": "v2/content/record.json",
        "record.json.sig": "v1/content/record.json.sig",
    }
    assert version_state(inv, 1)["record.json"] == "v1/content/record.json"
    assert_valid(obj)


def test_a_new_version_leaves_the_first_versions_inventory_as_it_was(root: Path) -> None:
    """The root inventory and v1's are two copies: v2 replaces the root one only."""
    obj, _ = make_object(root, "a.txt", b"hello")
    first = (obj / "v1/inventory.json").read_bytes()
    first_side = (obj / "v1/inventory.json.sha512").read_bytes()
    assert (obj / "inventory.json").read_bytes() == first
    add_version(obj, [put(obj, 2, "record.json", b"new record")], **V2)
    assert (obj / "v1/inventory.json").read_bytes() == first
    assert (obj / "v1/inventory.json.sha512").read_bytes() == first_side
    assert (obj / "inventory.json").read_bytes() == (obj / "v2/inventory.json").read_bytes()
    assert (obj / "inventory.json").read_bytes() != first
    assert_valid(obj)


def test_a_version_without_new_content_has_no_content_folder(root: Path) -> None:
    obj, _ = make_object(root, "a.txt", b"hello")
    files = [
        FileEntry(
            "b.txt", hashlib.sha512(b"hello").hexdigest(), hashlib.sha256(b"hello").hexdigest()
        )
    ]
    add_version(obj, files, **V2)
    assert sorted(p.name for p in (obj / "v2").iterdir()) == [
        "inventory.json",
        "inventory.json.sha512",
    ]
    assert_valid(obj)


def test_identical_files_in_v1_keep_both_content_paths(tmp_path: Path) -> None:
    files = [put(tmp_path, 1, "a.txt", b"same"), put(tmp_path, 1, "b/a.txt", b"same")]
    inv = write_new_object(tmp_path, "urn:example:1", files, **V1)
    assert inv["manifest"] == {files[0].sha512: ["v1/content/a.txt", "v1/content/b/a.txt"]}
    assert_valid(tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"created": "2024-05-01 12:00"},
        {"user_address": "ana@example.org"},
        {"files": [FileEntry("a/../b", "0" * 128, "0" * 64)]},
        {"files": [FileEntry("a", "A" * 128, "0" * 64)]},
        {"files": [FileEntry("a", "0" * 128, "0" * 64), FileEntry("a/b", "1" * 128, "1" * 64)]},
    ],
)
def test_bad_arguments_raise_value_error(tmp_path: Path, change: dict[str, object]) -> None:
    args: dict[str, object] = {"files": [put(tmp_path, 1, "a", b"x")], **V1, **change}
    with pytest.raises(ValueError):
        write_new_object(tmp_path, "urn:example:1", **args)  # type: ignore[arg-type]


def test_missing_or_stray_content_is_refused(tmp_path: Path) -> None:
    entry = put(tmp_path, 1, "a", b"x")
    with pytest.raises(StorageError):
        write_new_object(
            tmp_path, "urn:example:1", [entry, FileEntry("b", "1" * 128, "1" * 64)], **V1
        )
    (tmp_path / "v1/content/stray").write_bytes(b"?")
    with pytest.raises(StorageError):
        write_new_object(tmp_path, "urn:example:1", [entry], **V1)
    assert not (tmp_path / "inventory.json").exists()


def test_reading_a_bad_inventory_raises_format_error(root: Path) -> None:
    obj, _ = make_object(root, "a.txt", b"hello")
    (obj / "inventory.json").write_bytes(b'{"head": "v1"')
    with pytest.raises(FormatError):
        read_inventory(obj)
    (obj / "inventory.json").write_bytes(b'{"head": "v1"}')
    with pytest.raises(FormatError):  # no longer matches its sidecar
        new_record(obj, 2, b"r")
    (obj / "inventory.json").unlink()
    with pytest.raises(FormatError):
        read_inventory(obj)


def test_an_interrupted_version_is_reported_then_rolled_back(root: Path) -> None:
    obj, oid = make_object(root, "a.txt", b"hello")
    put(obj, 2, "record.json", b"half written")  # crash before any inventory was written
    assert {f.code for f in check_object(obj, object_id=oid, rel="o")} == {Code.INCOMPLETE_INGEST}
    assert roll_back_incomplete_version(obj) == 2
    assert check_object(obj, object_id=oid, rel="o") == []
    assert_valid(obj)


def test_a_stale_root_sidecar_is_reported_then_rolled_back(root: Path) -> None:
    obj, oid = make_object(root, "a.txt", b"hello")
    new_record(obj, 2, b"r2")
    shutil.copy(obj / "v1/inventory.json.sha512", obj / "inventory.json.sha512")  # crash signature
    assert {f.code for f in check_object(obj, object_id=oid, rel="o")} == {Code.INCOMPLETE_INGEST}
    assert roll_back_incomplete_version(obj) == 2
    assert read_inventory(obj)["head"] == "v1" and not (obj / "v2").exists()
    assert roll_back_incomplete_version(obj) is None
    assert_valid(obj)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Testimonio.pdf", "Testimonio.pdf"),
        ("", "unnamed"),
        ("..", "_"),
        (".bashrc", "_bashrc"),
        ("a/b\\c:d.txt", "a_b_c_d.txt"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("x\x00y\n.txt", "x_y_.txt"),
        (os.fsdecode(b"caf\xe9.txt"), "caf%E9.txt"),
        ("e\u0301.txt", "\u00e9.txt"),
        ("report. ", "report"),
        ("evil\u202etxt.exe", "evil_txt.exe"),
    ],
)
def test_safe_logical_name_examples(name: str, expected: str) -> None:
    assert safe_logical_name(name) == expected


def test_a_long_name_keeps_its_extension_and_stays_distinct() -> None:
    a, b = safe_logical_name("x" * 300 + "1.pdf"), safe_logical_name("x" * 300 + "2.pdf")
    assert a.endswith(".pdf") and len(a.encode()) <= 200 and a != b


FILE_NAMES = st.one_of(
    st.text(),
    st.binary(max_size=300).map(os.fsdecode),
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zs", "Po"]), max_size=300),
    st.text(min_size=150, max_size=400),
)


@given(FILE_NAMES)
def test_safe_logical_name_properties(name: str) -> None:
    safe = safe_logical_name(name)
    raw = safe.encode("utf-8")  # strict: valid UTF-8, no surrogates
    assert 0 < len(raw) <= 200
    assert unicodedata.normalize("NFC", safe) == safe
    assert not set(safe) & set('/\\<>:"|?*\x00')
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in safe)
    assert not safe.startswith(".") and not safe.endswith((".", " "))
    assert safe_logical_name(safe) == safe == safe_logical_name(name)


def test_safe_names_are_real_file_names(tmp_path: Path) -> None:
    for name in HOSTILE:
        (tmp_path / safe_logical_name(name)).write_bytes(b"")
    assert sorted(os.listdir(tmp_path)) == sorted({safe_logical_name(n) for n in HOSTILE})
