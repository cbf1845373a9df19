"""OCFL 1.1 objects: one per artefact, written so that ``ocfl-validate.py`` accepts every one.

Inventories use ``sha512`` for content addressing and carry a ``fixity`` block with the
``sha256`` of every content file (the artefact id is the sha256 of the original). Content paths
are ``vN/content/<logical path>``: what an auditor sees on disk is what the object holds.

Deduplication. Within one version the manifest lists *every* content path the caller wrote,
so two logical paths with identical bytes give one digest with two content paths (valid
OCFL, nothing on disk is left unlisted). Across versions, content whose sha512 is already in
the manifest is not stored again: ask :func:`needs_content` before writing ``vN/content``
files; if the caller writes such a file anyway it is listed too.

Writing order for a new version: ``vN/inventory.json`` and its sidecar, then the root inventory,
then the root sidecar, each replaced atomically. A crash leaves either the old head intact
plus a stray ``vN`` folder, or a root sidecar one step behind; :func:`roll_back_incomplete_version`
undoes either (the caller records the new version in the custody log only after success).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.fsutil import fsync_dir, write_atomic, write_file
from archive.hashing import sha512_hex
from archive.ocfl_inventory import INVENTORY_TYPE, parse_inventory

# Re-exported: callers find the whole OCFL API here.
from archive.ocfl_layout import LAYOUT_NAME as LAYOUT_NAME
from archive.ocfl_layout import OBJECT_NAMASTE as OBJECT_NAMASTE
from archive.ocfl_layout import ROOT_NAMASTE as ROOT_NAMASTE
from archive.ocfl_layout import init_storage_root as init_storage_root
from archive.ocfl_layout import json_bytes
from archive.ocfl_layout import list_object_dirs as list_object_dirs
from archive.ocfl_layout import object_path as object_path
from archive.ocfl_layout import safe_logical_name as safe_logical_name
from archive.ocfl_layout import walk_storage_root as walk_storage_root
from constancia.errors import FormatError, StorageError

INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
CONTENT_DIR = "content"
_SHA512 = re.compile(r"[0-9a-f]{128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
#: RFC 3986 scheme. ocfl-py warns (W009) unless the scheme is 3-6 word characters: prefer
#: ``mailto:`` or ``urn:``.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


@dataclass(frozen=True)
class FileEntry:
    """One file of a version: where it appears (logical path) and its lowercase hex digests."""

    logical_path: str
    sha512: str
    sha256: str


def content_path(version: int, logical_path: str) -> str:
    return f"v{version}/{CONTENT_DIR}/{logical_path}"


def inventory_bytes(inv: dict[str, Any]) -> bytes:
    """The exact bytes we write for an inventory: sorted keys, 2-space indent, UTF-8, newline."""
    return json_bytes(inv)


def sidecar_bytes(inventory_data: bytes) -> bytes:
    return f"{sha512_hex(inventory_data)} {INVENTORY}\n".encode()


def _check_path(path: str) -> None:
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\x00" in path:
        raise ValueError(f"not a valid OCFL logical path: {path!r}")
    path.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates


def _check_state(paths: Iterable[str]) -> None:
    """Logical paths must be unique and no path may be a folder of another (OCFL E095)."""
    seen = set(paths)
    for p in seen:
        _check_path(p)
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise ValueError(f"logical path {p!r} conflicts with a file of that name")


def _check_version_args(files: Sequence[FileEntry], created: str, address: str) -> None:
    if not _RFC3339.fullmatch(created):
        raise ValueError(f"created must be RFC 3339 with seconds and a zone: {created!r}")
    if not _URI.fullmatch(address):
        raise ValueError(f"user address must be a URI (mailto:, urn:): {address!r}")
    if len({f.logical_path for f in files}) != len(files):
        raise ValueError("the same logical path is given twice")
    for f in files:
        if not _SHA512.fullmatch(f.sha512) or not _SHA256.fullmatch(f.sha256):
            raise ValueError(f"digests of {f.logical_path!r} must be lowercase hex")


def _version_block(
    state: dict[str, str], created: str, message: str, name: str, address: str
) -> dict[str, Any]:
    by_digest: dict[str, list[str]] = {}
    for logical in sorted(state):
        by_digest.setdefault(state[logical], []).append(logical)
    return {
        "created": created,
        "message": message,
        "state": by_digest,
        "user": {"address": address, "name": name},
    }


def _stray_content(content_dir: Path, listed: set[Path]) -> list[Path]:
    """Files under ``content_dir`` not in ``listed``, and empty folders (OCFL E023, E024)."""
    strays: list[Path] = []
    if not content_dir.exists():
        return strays
    for top, dirs, names in os.walk(content_dir):
        folder = Path(top)
        strays.extend(folder / n for n in names if folder / n not in listed)
        if not dirs and not names:
            strays.append(folder)
    return strays


def _write_inventories(
    object_dir: Path, version_dir: Path, inv: dict[str, Any], fsync: bool, *, new: bool = False
) -> None:
    """``new``: the object is being built in a private staging folder (renamed into place
    whole), so plain creation suffices; otherwise each file is replaced atomically."""
    data = inventory_bytes(inv)
    side = sidecar_bytes(data)
    version_dir.mkdir(exist_ok=True)
    write = write_file if new else write_atomic
    write(version_dir / INVENTORY, data, fsync=fsync)
    write(version_dir / SIDECAR, side, fsync=fsync)
    # The root sidecar is written last: a crash before it is detected and rolled back.
    write(object_dir / INVENTORY, data, fsync=fsync)
    write(object_dir / SIDECAR, side, fsync=fsync)


def write_new_object(
    object_dir: Path,
    object_id: str,
    files: Sequence[FileEntry],
    *,
    created: str,
    message: str,
    user_name: str,
    user_address: str,
    fsync: bool = True,
    check_content: bool = True,
) -> dict[str, Any]:
    """Write the declaration and the v1 inventories of an object whose ``v1/content/...`` files
    the caller has already written (and made durable). Returns the inventory.

    Raises ``ValueError`` for bad arguments and :class:`StorageError` when a content file is
    missing or ``v1/content`` holds anything not in ``files``. ``check_content=False`` skips
    looking (a stat per file and a walk of the folder, a tenth of an import's staging): for
    a caller that has just written exactly those files into a folder of its own.
    """
    _check_version_args(files, created, user_address)
    _check_state(f.logical_path for f in files)
    if not object_id:
        raise ValueError("the object id is empty")
    object_id.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates
    manifest: dict[str, list[str]] = {}
    fixity: dict[str, list[str]] = {}
    sha256_of: dict[str, str] = {}
    for f in files:
        if sha256_of.setdefault(f.sha512, f.sha256) != f.sha256:
            raise ValueError(f"{f.logical_path!r}: one sha512 with two different sha256")
        cp = content_path(1, f.logical_path)
        if check_content and not (object_dir / cp).is_file():
            raise StorageError("A content file of the new object is missing.", path=object_dir / cp)
        manifest.setdefault(f.sha512, []).append(cp)
        fixity.setdefault(f.sha256, []).append(cp)
    if check_content and (
        strays := _stray_content(
            object_dir / "v1" / CONTENT_DIR,
            {object_dir / content_path(1, f.logical_path) for f in files},
        )
    ):
        raise StorageError("The new object holds a file no inventory lists.", path=strays[0])
    state = {f.logical_path: f.sha512 for f in files}
    inv: dict[str, Any] = {
        "digestAlgorithm": "sha512",
        "fixity": {"sha256": fixity},
        "head": "v1",
        "id": object_id,
        "manifest": manifest,
        "type": INVENTORY_TYPE,
        "versions": {"v1": _version_block(state, created, message, user_name, user_address)},
    }
    write_file(object_dir / OBJECT_NAMASTE, b"ocfl_object_1.1\n", fsync=fsync)
    _write_inventories(object_dir, object_dir / "v1", inv, fsync, new=True)
    return inv


def read_inventory(object_dir: Path, *, strict: bool = False) -> dict[str, Any]:
    """The root inventory of an object. :class:`FormatError` if it is missing, not a JSON
    object, or (``strict``) does not match ``inventory.json.sha512`` or breaks an OCFL rule."""
    path = object_dir / INVENTORY
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError("The object has no readable inventory.json.", path=path) from e
    if strict:
        try:
            side = (object_dir / SIDECAR).read_bytes()
        except OSError:
            side = b""
        if side.split()[:1] != [sha512_hex(data).encode()]:
            raise FormatError("inventory.json does not match inventory.json.sha512.", path=path)
        problems = parse_inventory(data).problems
        if problems:
            raise FormatError(f"inventory.json is not valid: {problems[0]}.", path=path)
    try:
        inv = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FormatError("inventory.json is not valid JSON.", path=path) from e
    if not isinstance(inv, dict):
        raise FormatError("inventory.json is not a JSON object.", path=path)
    return inv


def head_number(inv: dict[str, Any]) -> int:
    """The head version's number (``"v3"`` -> 3). :class:`FormatError` if malformed."""
    head = inv.get("head")
    if not isinstance(head, str) or not re.fullmatch(r"v[1-9][0-9]*", head):
        raise FormatError(f"The inventory's head is not a version name: {head!r}.")
    return int(head[1:])


def _logical_to_digest(inv: dict[str, Any], version: int) -> dict[str, str]:
    try:
        state = inv["versions"][f"v{version}"]["state"]
        return {logical: digest for digest, paths in state.items() for logical in paths}
    except (KeyError, TypeError, AttributeError) as e:
        raise FormatError(f"The inventory has no readable state for version {version}.") from e


def version_state(inv: dict[str, Any], version: int) -> dict[str, str]:
    """Logical path -> content path (relative to the object) for one version."""
    manifest = inv.get("manifest")
    out: dict[str, str] = {}
    for logical, digest in _logical_to_digest(inv, version).items():
        paths = manifest.get(digest) if isinstance(manifest, dict) else None
        if not isinstance(paths, list) or not paths or not isinstance(paths[0], str):
            raise FormatError(f"The inventory's manifest has no content for {logical!r}.")
        out[logical] = paths[0]
    return out


def head_state(inv: dict[str, Any]) -> dict[str, str]:
    """Logical path -> content path for the head version (e.g. ``record.json`` ->
    ``v2/content/record.json``, ``original/x.pdf`` -> ``v1/content/original/x.pdf``)."""
    return version_state(inv, head_number(inv))


def needs_content(object_dir: Path, sha512: str) -> bool:
    """True if content with this digest is not yet stored in the object (write it in vN)."""
    manifest = read_inventory(object_dir).get("manifest")
    return not (isinstance(manifest, dict) and sha512 in manifest)


def add_version(
    object_dir: Path,
    files: Sequence[FileEntry],
    *,
    created: str,
    message: str,
    user_name: str,
    user_address: str,
    fsync: bool = True,
) -> int:
    """Add version N = head + 1: the previous state with ``files`` added or replaced.

    The caller has written ``vN/content/<logical path>`` for every file whose sha512 is new to
    the object (see :func:`needs_content`) and made it durable. Returns N.
    Raises :class:`FormatError` if the current inventory does not match its sidecar,
    :class:`StorageError` if new content is missing or ``vN/content`` holds strays.
    """
    _check_version_args(files, created, user_address)
    inv = read_inventory(object_dir, strict=True)
    n = head_number(inv) + 1
    state = _logical_to_digest(inv, n - 1)
    state.update({f.logical_path: f.sha512 for f in files})
    _check_state(state)
    manifest: dict[str, list[str]] = {d: list(p) for d, p in inv["manifest"].items()}
    fixity = {d: list(p) for d, p in inv.setdefault("fixity", {}).get("sha256", {}).items()}
    written: set[Path] = set()
    for f in files:
        cp = content_path(n, f.logical_path)
        if (object_dir / cp).is_file():
            written.add(object_dir / cp)
            manifest.setdefault(f.sha512, []).append(cp)
            fixity.setdefault(f.sha256, []).append(cp)
        elif f.sha512 not in manifest:
            raise StorageError("New content for this version is missing.", path=object_dir / cp)
    strays = _stray_content(object_dir / f"v{n}" / CONTENT_DIR, written)
    if strays:
        raise StorageError("The new version holds a file no inventory lists.", path=strays[0])
    inv["manifest"] = manifest
    inv["fixity"]["sha256"] = fixity
    inv["head"] = f"v{n}"
    inv["versions"][f"v{n}"] = _version_block(state, created, message, user_name, user_address)
    _write_inventories(object_dir, object_dir / f"v{n}", inv, fsync)
    return n


def roll_back_incomplete_version(object_dir: Path, *, fsync: bool = True) -> int | None:
    """Undo a version that :func:`add_version` did not finish; return its number, or None.

    Two crash states exist: a ``v<head+1>`` folder beside an untouched root inventory, or a
    root inventory already replaced while the root sidecar still holds the previous digest.
    """
    data = (object_dir / INVENTORY).read_bytes()
    inv = read_inventory(object_dir)
    head = head_number(inv)
    stray = object_dir / f"v{head + 1}"
    if stray.is_dir():
        shutil.rmtree(stray)
        if fsync:
            fsync_dir(object_dir)
        return head + 1
    side = (object_dir / SIDECAR).read_bytes()
    if head < 2 or side == sidecar_bytes(data):
        return None
    head_dir, prev_dir = object_dir / f"v{head}", object_dir / f"v{head - 1}"
    if (head_dir / INVENTORY).read_bytes() != data or (prev_dir / SIDECAR).read_bytes() != side:
        return None  # not our crash signature: damage, which verify reports
    write_atomic(object_dir / INVENTORY, (prev_dir / INVENTORY).read_bytes(), fsync=fsync)
    shutil.rmtree(head_dir)
    if fsync:
        fsync_dir(object_dir)
    return head


def storage_path(root: Path, object_id: str) -> Path:
    """Where the object with this id lives under the storage root."""
    return root / object_path(object_id)
