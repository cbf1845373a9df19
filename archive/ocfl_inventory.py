"""Read an untrusted OCFL inventory into a checked summary; never raises on bad input.

Every rule broken becomes one line in :attr:`Inventory.problems`; what could be read safely
(content paths with their digests, logical states) is kept so that the object checker can go
on to compare the inventory with the files on disk. Rules are those of OCFL 1.1 section 3.5
plus our own: ``sha512`` content addressing and a ``sha256`` fixity value for every content file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
_REQUIRED = frozenset({"id", "type", "digestAlgorithm", "head", "manifest", "versions"})
_OPTIONAL = frozenset({"contentDirectory", "fixity"})
_VERSION_KEYS = frozenset({"created", "message", "state", "user"})
_VERSION_NAME = re.compile(r"v([1-9][0-9]*)")
_SHA512 = re.compile(r"[0-9a-fA-F]{128}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", flags=re.ASCII
)


def show(text: str) -> str:
    """``text`` made safe to print and to store as JSON (lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Inventory:
    """What an inventory says, as far as it could be read. ``versions`` is 0 when the version
    sequence is unusable; ``manifest`` is None when no content path can be trusted."""

    problems: list[str] = field(default_factory=list)
    id: str | None = None
    versions: int = 0
    content_dir: str = "content"
    manifest: dict[str, str] | None = None  # content path -> lowercase sha512
    fixity256: dict[str, str] = field(default_factory=dict)  # content path -> lowercase sha256
    states: dict[int, dict[str, str]] = field(default_factory=dict)  # n -> logical -> sha512
    raw: dict[str, Any] | None = None  # the parsed JSON object, for callers that read it too


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, from "\\udXXX" escapes in the JSON
        return False
    return True


def _path_ok(path: object, min_parts: int = 1) -> bool:
    if not isinstance(path, str) or "\x00" in path:
        return False
    parts = path.split("/")
    if len(parts) < min_parts or "" in parts or "." in parts or ".." in parts:
        return False
    return path.isascii() or _utf8_ok(path)


def _conflicts(paths: Iterable[str]) -> list[str]:
    """Paths that are also used as a folder of another path (OCFL E095, E101)."""
    seen = set(paths)
    folders = {p.rsplit("/", 1)[0] for p in seen if "/" in p}
    grand: set[str] = set()
    for f in folders:
        parts = f.split("/")
        grand.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(seen & grand)


class _Reader:
    def __init__(self) -> None:
        self.inv = Inventory()

    def bad(self, message: str) -> None:
        self.inv.problems.append(message)

    def read(self, data: bytes) -> Inventory:
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self.bad(f"not valid UTF-8 JSON ({show(str(e))[:200]})")
            return self.inv
        if not isinstance(raw, dict):
            self.bad("not a JSON object")
            return self.inv
        self.inv.raw = raw
        for key in sorted(_REQUIRED - raw.keys()):
            self.bad(f"required key {key!r} is missing")
        for key in sorted(raw.keys() - _REQUIRED - _OPTIONAL):
            self.bad(f"unknown key {show(key)!r}")
        self._header(raw)
        self._versions(raw.get("versions"), raw.get("head"))
        self._manifest(raw.get("manifest"))
        if self.inv.versions:
            for n in range(1, self.inv.versions + 1):
                self._version(n, raw["versions"][f"v{n}"])
        self._fixity(raw.get("fixity"))
        self._cross_check()
        return self.inv

    def _header(self, raw: dict[str, Any]) -> None:
        if "id" in raw:
            iid = raw["id"]
            if isinstance(iid, str) and iid and _utf8_ok(iid):
                self.inv.id = iid
            else:
                self.bad("id is not a non-empty string")
        if "type" in raw and raw["type"] != INVENTORY_TYPE:
            self.bad(f"type is not {INVENTORY_TYPE}")
        if "digestAlgorithm" in raw and raw["digestAlgorithm"] != "sha512":
            self.bad("digestAlgorithm is not sha512")
        if "contentDirectory" in raw:
            cd = raw["contentDirectory"]
            if not isinstance(cd, str) or "/" in cd or not _path_ok(cd):
                self.bad("contentDirectory is not a single folder name")
            else:
                self.inv.content_dir = cd

    def _versions(self, versions: object, head: object) -> None:
        if not isinstance(versions, dict) or not versions:
            if versions is not None:
                self.bad("versions is not a non-empty JSON object")
            return
        numbers = []
        for name in versions:
            m = _VERSION_NAME.fullmatch(name)
            if m is None:
                self.bad(f"version name {show(name)!r} is not v1, v2, ...")
                return
            numbers.append(int(m.group(1)))
        n = len(numbers)
        if sorted(numbers) != list(range(1, n + 1)):
            self.bad("version numbers are not 1, 2, 3, ... without gaps")
            return
        if not all(isinstance(v, dict) for v in versions.values()):
            self.bad("a version is not a JSON object")
            return
        self.inv.versions = n
        if head is not None and head != f"v{n}":
            self.bad(f"head is not the last version v{n}")

    def _manifest(self, manifest: object) -> None:
        if not isinstance(manifest, dict):
            if manifest is not None:
                self.bad("manifest is not a JSON object")
            return
        out: dict[str, str] = {}
        digests: set[str] = set()
        for digest, paths in manifest.items():
            if not _SHA512.fullmatch(digest):
                self.bad(f"manifest key {show(digest)[:140]!r} is not a sha512 digest")
                continue
            low = digest.lower()
            if low in digests:
                self.bad(f"manifest digest {low} appears twice")
            digests.add(low)
            if not isinstance(paths, list) or not paths:
                self.bad(f"manifest entry {low} is not a non-empty list")
                continue
            for p in paths:
                if not self._content_path_ok(p):
                    self.bad(f"manifest content path {show(str(p))[:300]!r} is not valid")
                elif p in out:
                    self.bad(f"content path {show(p)!r} is listed twice")
                else:
                    out[p] = low
        for p in _conflicts(out):
            self.bad(f"content path {show(p)!r} is also used as a folder")
        self.inv.manifest = out

    def _content_path_ok(self, path: object) -> bool:
        if not _path_ok(path, min_parts=3):
            return False
        assert isinstance(path, str)
        version, cdir, _ = path.split("/", 2)
        m = _VERSION_NAME.fullmatch(version)
        in_range = m is not None and (not self.inv.versions or int(m.group(1)) <= self.inv.versions)
        return in_range and cdir == self.inv.content_dir

    def _version(self, n: int, block: dict[str, Any]) -> None:
        where = f"version v{n}"
        for key in sorted(block.keys() - _VERSION_KEYS):
            self.bad(f"{where}: unknown key {show(key)!r}")
        created = block.get("created")
        if not isinstance(created, str) or not _RFC3339.fullmatch(created):
            self.bad(f"{where}: created is missing or not an RFC 3339 date-time")
        if "message" in block and not isinstance(block["message"], str):
            self.bad(f"{where}: message is not a string")
        user = block.get("user")
        if "user" in block and not (
            isinstance(user, dict)
            and isinstance(user.get("name"), str)
            and isinstance(user.get("address", ""), str)
        ):
            self.bad(f"{where}: user is not an object with a name")
        state = block.get("state")
        if not isinstance(state, dict):
            self.bad(f"{where}: state is missing or not a JSON object")
            return
        logical: dict[str, str] = {}
        for digest, paths in state.items():
            if not _SHA512.fullmatch(digest) or not isinstance(paths, list) or not paths:
                self.bad(f"{where}: state entry {show(digest)[:140]!r} is not valid")
                continue
            for p in paths:
                if not _path_ok(p):
                    self.bad(f"{where}: logical path {show(str(p))[:300]!r} is not valid")
                elif p in logical:
                    self.bad(f"{where}: logical path {show(p)!r} appears twice")
                else:
                    logical[p] = digest.lower()
        for p in _conflicts(logical):
            self.bad(f"{where}: logical path {show(p)!r} is also used as a folder")
        self.inv.states[n] = logical

    def _fixity(self, fixity: object) -> None:
        if fixity is None:
            return
        if not isinstance(fixity, dict) or not all(isinstance(b, dict) for b in fixity.values()):
            self.bad("fixity is not a JSON object of JSON objects")
            return
        manifest = self.inv.manifest or {}
        for algorithm, block in fixity.items():
            for digest, paths in block.items():
                if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                    self.bad(f"fixity {show(algorithm)!r} entry is not a list of paths")
                    continue
                if algorithm == "sha256" and not _SHA256.fullmatch(digest):
                    self.bad(f"fixity sha256 key {show(digest)[:140]!r} is not a sha256 digest")
                    continue
                for p in paths:
                    if p not in manifest:
                        self.bad(f"fixity path {show(p)[:300]!r} is not in the manifest")
                    elif algorithm == "sha256":
                        if p in self.inv.fixity256:
                            self.bad(f"fixity sha256 lists {show(p)!r} twice")
                        self.inv.fixity256[p] = digest.lower()

    def _cross_check(self) -> None:
        manifest = self.inv.manifest
        if manifest is None:
            return
        by_digest: dict[str, int] = {}
        for path, digest in manifest.items():
            version = int(path.split("/", 1)[0][1:])
            by_digest[digest] = min(version, by_digest.get(digest, version))
        used: set[str] = set()
        for n, logical in self.inv.states.items():
            for path, digest in logical.items():
                if by_digest.get(digest, n + 1) > n:
                    self.bad(f"version v{n}: {show(path)!r} has no content in v1..v{n}")
                used.add(digest)
        if self.inv.versions:
            for digest in sorted(by_digest.keys() - used):
                self.bad(f"manifest digest {digest} is used by no version")
        for path in sorted(manifest.keys() - self.inv.fixity256.keys()):
            self.bad(f"no sha256 fixity value for {show(path)!r}")


def parse_inventory(data: bytes) -> Inventory:
    """Check the bytes of an inventory.json; every problem is listed, none raised."""
    return _Reader().read(data)
