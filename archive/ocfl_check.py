"""Our own fast OCFL object checker, used by ``constancia verify``; it never raises.

It reads each inventory once, walks the object once and hashes each content file once (sha512
and sha256 together), and collects every problem as a :class:`Finding`. It is stricter than
OCFL where our archive is: every content file needs a sha256 fixity value, every version
folder must hold its inventory, and ``logs/`` or ``extensions/`` in an object are unexpected.
A folder ``v<head+1>`` or a root sidecar one step behind is reported as INCOMPLETE_INGEST: the
trace of an interrupted new version (see :func:`archive.ocfl.roll_back_incomplete_version`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from archive.findings import Code, Finding
from archive.hashing import Digests, copy_and_hash, sha512_hex
from archive.ocfl import (
    INVENTORY,
    OBJECT_NAMASTE,
    ROOT_NAMASTE,
    SIDECAR,
    list_object_dirs,
    walk_storage_root,
)
from archive.ocfl_inventory import Inventory, parse_inventory, show
from archive.ocfl_layout import object_path

__all__ = ["check_object", "check_storage_root", "list_object_dirs"]

_SIDECAR_LINE = re.compile(rb"([0-9a-fA-F]{128})[ \t]+inventory\.json\n?")
_ARTEFACT_ID = re.compile(r"urn:sha256:([0-9a-f]{64})")
_VERSION_DIR = re.compile(r"v[0-9]+")
#: Files up to this size are read in one call and hashed whole.
_WHOLE = 1 << 20
#: Content files whose bytes :func:`check_object_inventory` hands back (verify reads them).
_KEPT = ("/record.json", "/record.json.sig")
#: How far up to look for the storage root when checking an object's place in the layout.
_MAX_DEPTH = 12


class _Report:
    def __init__(self, object_dir: Path, rel: str, artefact_id: str | None) -> None:
        # Plain strings, not Paths: this runs for every file of every object.
        self.dir = os.fspath(object_dir)
        self.rel = rel.rstrip("/")
        self.id = artefact_id
        self.findings: list[Finding] = []
        self.empty: list[str] = []  # empty content folders, reported unless a file is missing
        #: Bytes of the small content files read whole (records and their signatures), for
        #: a caller that reads them too: see :func:`check_object_inventory`.
        self.kept: dict[str, bytes] = {}

    def add(self, code: Code, message: str, sub: str = "") -> None:
        path = f"{self.rel}/{sub}" if sub else self.rel
        self.findings.append(Finding(code, message, id=self.id, path=show(path)))

    def sorted(self) -> list[Finding]:
        """Findings by path: the folder scans are in no particular order."""
        return sorted(self.findings, key=lambda f: f.path or "")

    def read(self, sub: str) -> bytes | None:
        # os.read, not open(): half the cost, and this runs five times for every object.
        try:
            fd = os.open(f"{self.dir}/{sub}", os.O_RDONLY)
        except OSError:
            return None
        chunks = []
        try:
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        return b"".join(chunks)


def _artefact_id(object_id: str | None) -> str | None:
    m = _ARTEFACT_ID.fullmatch(object_id or "")
    return m.group(1) if m else None


def _sidecar_problem(sidecar: bytes | None, digest: str) -> str | None:
    if sidecar is None:
        return "is missing"
    m = _SIDECAR_LINE.fullmatch(sidecar)
    if m is None:
        return "is not '<sha512> inventory.json'"
    if m.group(1).decode().lower() != digest:
        return "does not match inventory.json"
    return None


def _scan(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _walk_files(r: _Report, sub: str, files: dict[str, bool] | None = None) -> None:
    """Every file below ``sub``: into ``files`` (path -> is a regular file, not a link), or
    reported as unexpected when ``files`` is None. Empty folders are noted."""
    entries = _scan(f"{r.dir}/{sub}")
    if not entries and files is None:
        r.add(Code.UNEXPECTED_FILE, "A folder that does not belong in an OCFL object.", sub)
    elif not entries:
        r.empty.append(sub)
    for e in entries:
        child = f"{sub}/{e.name}"
        if e.is_dir(follow_symlinks=False):
            _walk_files(r, child, files)
        elif files is None:
            r.add(Code.UNEXPECTED_FILE, "A file that no inventory lists.", child)
        else:  # a link or a device is not content, even where the manifest expects a file
            files[child] = e.is_file(follow_symlinks=False)


def _check_namaste(r: _Report, names: set[str]) -> None:
    for name in sorted(n for n in names if n.startswith("0=") and n != OBJECT_NAMASTE):
        r.add(Code.OBJECT_INVALID, "A second or wrong OCFL declaration file.", name)
    if OBJECT_NAMASTE not in names:
        r.add(Code.OBJECT_INVALID, "The OCFL object declaration is missing.", OBJECT_NAMASTE)
    elif r.read(OBJECT_NAMASTE) != b"ocfl_object_1.1\n":
        r.add(Code.OBJECT_INVALID, "The OCFL object declaration has wrong content.", OBJECT_NAMASTE)


def _check_root_sidecar(r: _Report, data: bytes, digest: str, inv: Inventory) -> None:
    side = r.read(SIDECAR)
    problem = _sidecar_problem(side, digest)
    if problem is None:
        return
    head = inv.versions
    if (
        head >= 2
        and r.read(f"v{head}/{INVENTORY}") == data
        and _sidecar_problem(r.read(f"v{head}/{SIDECAR}"), digest) is None
        and side == r.read(f"v{head - 1}/{SIDECAR}")
    ):
        r.add(Code.INCOMPLETE_INGEST, f"Version v{head} was interrupted before its end.", SIDECAR)
    else:
        r.add(Code.INVENTORY_DIGEST_MISMATCH, f"{SIDECAR} {problem}.", SIDECAR)


def _check_location(r: _Report, inv_id: str) -> None:
    """If the object sits in a storage root, it must be where the layout puts its id."""
    expected = object_path(inv_id)
    if r.dir == expected or r.dir.endswith("/" + expected):
        return  # the common case, decided without touching the disk
    folder = os.path.abspath(r.dir)
    for _ in range(_MAX_DEPTH):
        folder = os.path.dirname(folder)
        if os.path.isfile(f"{folder}/{ROOT_NAMASTE}"):
            r.add(Code.OBJECT_INVALID, f"The object is not where the layout puts {show(inv_id)}.")
            return


def _check_prior(r: _Report, n: int, root: Inventory) -> None:
    sub = f"v{n}/{INVENTORY}"
    data = r.read(sub)
    if data is None:
        r.add(Code.INVENTORY_MISSING, f"Version v{n} has no inventory.", sub)
        return
    problem = _sidecar_problem(r.read(f"v{n}/{SIDECAR}"), sha512_hex(data))
    if problem:
        r.add(Code.INVENTORY_DIGEST_MISMATCH, f"{SIDECAR} {problem}.", f"v{n}/{SIDECAR}")
    prior = parse_inventory(data)
    disagree = [*prior.problems]
    if prior.versions != n:
        disagree.append(f"it does not describe versions v1..v{n}")
    if prior.id != root.id:
        disagree.append("its id differs from the object's")
    disagree += [
        f"state of v{k} differs" for k, s in prior.states.items() if root.states.get(k) != s
    ]
    manifest, now = prior.manifest or {}, root.manifest or {}
    disagree += [f"{show(p)!r} differs" for p, d in manifest.items() if now.get(p) != d]
    fix = root.fixity256
    disagree += [
        f"fixity {show(p)!r} differs" for p, d in prior.fixity256.items() if fix.get(p) != d
    ]
    for message in disagree:
        r.add(Code.INVENTORY_INVALID, f"Inventory of v{n}: {message}.", sub)


def _check_version(
    r: _Report, n: int, inv: Inventory, data: bytes, digest: str, files: dict[str, bool]
) -> None:
    vdir = f"v{n}"
    names = set()
    for e in _scan(f"{r.dir}/{vdir}"):
        names.add(e.name)
        sub = f"{vdir}/{e.name}"
        if e.is_symlink():
            r.add(Code.OBJECT_INVALID, "A symbolic link; OCFL forbids links.", sub)
            continue
        if e.name in (INVENTORY, SIDECAR) and e.is_file(follow_symlinks=False):
            continue
        if e.name == inv.content_dir and e.is_dir(follow_symlinks=False):
            if inv.manifest is not None:  # else the inventory is reported, not each file
                _walk_files(r, sub, files)
        elif e.is_dir(follow_symlinks=False):
            _walk_files(r, sub)
        else:
            r.add(Code.UNEXPECTED_FILE, "A file that no inventory lists.", sub)
    if n < inv.versions:
        _check_prior(r, n, inv)
    elif INVENTORY not in names:
        r.add(Code.INVENTORY_MISSING, "The head version has no inventory.", f"{vdir}/{INVENTORY}")
    elif r.read(f"{vdir}/{INVENTORY}") != data:
        message = "The head version's inventory differs from the object's."
        r.add(Code.INVENTORY_INVALID, message, f"{vdir}/{INVENTORY}")
    else:
        problem = _sidecar_problem(r.read(f"{vdir}/{SIDECAR}"), digest)
        if problem:
            r.add(Code.INVENTORY_DIGEST_MISMATCH, f"{SIDECAR} {problem}.", f"{vdir}/{SIDECAR}")


def _check_top(r: _Report, entries: list[os.DirEntry[str]], inv: Inventory) -> set[int]:
    """Report what does not belong at the top; return the version numbers present."""
    present: set[int] = set()
    for e in entries:
        if e.is_symlink():
            r.add(Code.OBJECT_INVALID, "A symbolic link; OCFL forbids links.", e.name)
            continue
        if e.name.startswith("0=") or e.name in (INVENTORY, SIDECAR):
            continue
        is_dir = e.is_dir(follow_symlinks=False)
        number = int(e.name[1:]) if _VERSION_DIR.fullmatch(e.name) and is_dir else 0
        if 1 <= number <= inv.versions and e.name == f"v{number}":
            present.add(number)
        elif inv.versions and number == inv.versions + 1 and e.name == f"v{number}":
            r.add(Code.INCOMPLETE_INGEST, "A new version was interrupted before its end.", e.name)
        elif number:
            r.add(Code.OBJECT_INVALID, "A version folder that the inventory does not list.", e.name)
        elif is_dir:
            _walk_files(r, e.name)
        else:
            r.add(Code.UNEXPECTED_FILE, "A file that does not belong in an OCFL object.", e.name)
    for n in sorted(set(range(1, inv.versions + 1)) - present):
        r.add(Code.OBJECT_INVALID, f"Version folder v{n} is missing.", f"v{n}")
    return present


def _check_content(r: _Report, inv: Inventory, files: dict[str, bool], digests: bool) -> None:
    manifest = inv.manifest or {}
    missing = [p for p in manifest if p not in files]
    for folder in r.empty:
        if not any(p.startswith(folder + "/") for p in missing):
            r.add(Code.OBJECT_INVALID, "An empty folder in a version's content.", folder)
    for path in sorted(files.keys() - manifest.keys()):
        r.add(Code.UNEXPECTED_FILE, "A content file that the manifest does not list.", path)
    for path in sorted(manifest):
        if path not in files:
            r.add(Code.FILE_MISSING, "A content file listed in the inventory is missing.", path)
        elif not files[path]:
            r.add(Code.OBJECT_INVALID, "Not a regular file (OCFL forbids links).", path)
        elif digests:
            try:
                got, data = _hash_content(f"{r.dir}/{path}")
            except OSError:
                r.add(Code.FILE_MISSING, "A content file cannot be read.", path)
                continue
            if data is not None and path.endswith(_KEPT):
                r.kept[path] = data
            if got.sha512 != manifest[path]:
                r.add(Code.FIXITY_MISMATCH, "sha512 differs from the manifest.", path)
            if path in inv.fixity256 and got.sha256 != inv.fixity256[path]:
                r.add(Code.FIXITY_MISMATCH, "sha256 differs from the fixity block.", path)


def _hash_content(path: str) -> tuple[Digests, bytes | None]:
    """Both digests of a file, and its bytes when it fits in one read (most content files of
    an archive of testimonies do: records, signatures, extracted text). One ``os.read`` and
    two hash calls cost half of a buffered file object; a larger file is streamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        first = os.read(fd, _WHOLE)
        if len(first) < _WHOLE and not os.read(fd, 1):
            return Digests.of(first), first
        with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
            f.seek(0)
            return copy_and_hash(f), None
    finally:
        os.close(fd)


def check_object(
    object_dir: Path, *, object_id: str | None, rel: str, check_digests: bool = True
) -> list[Finding]:
    """Every problem of one OCFL object. ``rel`` is the object's path relative to the archive
    (findings' paths start with it); ``object_id`` the id it must have, if known."""
    return _check_object(object_dir, object_id, rel, check_digests)[0].sorted()


def check_object_inventory(
    object_dir: Path, *, object_id: str | None, rel: str, check_digests: bool = True
) -> tuple[list[Finding], dict[str, Any] | None, dict[str, bytes]]:
    """:func:`check_object`, the root inventory as parsed JSON (None if unreadable), and the
    bytes of every ``record.json`` and ``record.json.sig`` whose digests were checked (by
    content path), so that a caller reading them too does not read them again."""
    r, inv = _check_object(object_dir, object_id, rel, check_digests)
    return r.sorted(), inv.raw if inv is not None else None, r.kept


def _check_object(
    object_dir: Path, object_id: str | None, rel: str, check_digests: bool
) -> tuple[_Report, Inventory | None]:
    r = _Report(object_dir, rel, _artefact_id(object_id))
    entries = _scan(r.dir)
    if not entries:
        r.add(Code.OBJECT_INVALID, "The object folder is missing, empty or unreadable.")
        return r, None
    _check_namaste(r, {e.name for e in entries})
    data = r.read(INVENTORY)
    if data is None:
        r.add(Code.INVENTORY_MISSING, "The object has no inventory.json.", INVENTORY)
        return r, None
    inv = parse_inventory(data)
    if r.id is None and inv.id is not None:
        r.id = _artefact_id(inv.id)
    for problem in inv.problems:
        r.add(Code.INVENTORY_INVALID, f"{problem[0].upper()}{problem[1:]}.", INVENTORY)
    if object_id is not None and inv.id is not None and inv.id != object_id:
        r.add(Code.INVENTORY_INVALID, f"The inventory's id is not {show(object_id)}.", INVENTORY)
    digest = sha512_hex(data)
    _check_root_sidecar(r, data, digest, inv)
    if inv.id is not None:
        _check_location(r, inv.id)
    if not inv.versions:
        return r, inv
    files: dict[str, bool] = {}
    for n in sorted(_check_top(r, entries, inv)):
        _check_version(r, n, inv, data, digest, files)
    if inv.manifest is not None:
        _check_content(r, inv, files, check_digests)
    return r, inv


def check_storage_root(root: Path, *, rel: str = "objects") -> list[Finding]:
    """Problems of the storage root itself: declaration, layout files, and anything in the
    hierarchy that is not an object (stray files, empty folders). Objects are not checked."""
    r = _Report(root, rel, None)
    if r.read(ROOT_NAMASTE) != b"ocfl_1.1\n":
        r.add(
            Code.OBJECT_INVALID, "The storage root declaration is missing or wrong.", ROOT_NAMASTE
        )
    layout = r.read("ocfl_layout.json") or b""
    if b'"0003-hash-and-id-n-tuple-storage-layout"' not in layout:
        r.add(
            Code.OBJECT_INVALID, "ocfl_layout.json does not name layout 0003.", "ocfl_layout.json"
        )
    for kind, path in walk_storage_root(root):
        sub = path.relative_to(root).as_posix()
        if kind == "stray":
            r.add(Code.UNEXPECTED_FILE, "A file in the storage hierarchy outside any object.", sub)
        elif kind == "empty":
            r.add(Code.OBJECT_INVALID, "An empty folder in the storage hierarchy.", sub)
    return r.sorted()
