"""Where things go on disk: the storage root, its layout's object paths, safe file names.

:func:`object_path` follows OCFL community extension 0003-hash-and-id-n-tuple-storage-layout
with its default parameters (sha256, tupleSize 3, numberOfTuples 3). :func:`safe_logical_name`
turns any original file name into one path segment that every common file system and the OCFL
path rules accept; the original name itself is kept in the signed record, not here.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from archive.fsutil import fsync_dir, write_atomic
from artefacts.json_text import indented_json
from constancia.errors import StorageError

ROOT_NAMASTE = "0=ocfl_1.1"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
LAYOUT_NAME = "0003-hash-and-id-n-tuple-storage-layout"
LAYOUT_DESCRIPTION = (
    "OCFL community extension 0003: hashed truncated n-tuple trees with object id "
    "encapsulating directory (sha256, tupleSize 3, numberOfTuples 3). Each object is one "
    "artefact; its id is urn:sha256:<hex sha256 of the original bytes>."
)
LAYOUT_DIGEST = "sha256"
TUPLE_SIZE = 3
NUMBER_OF_TUPLES = 3
#: The extension truncates longer encapsulation directory names and appends the digest.
_MAX_ENCAPSULATION = 100
#: The extension's safe characters are A-Z, a-z, 0-9, "-" and "_"; others are percent-encoded.
_UNSAFE_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]", flags=re.ASCII)

#: Longest name in UTF-8 bytes: well under the 255 of ext4, APFS, NTFS (in UTF-16 units).
MAX_NAME_BYTES = 200
_EMPTY_NAME = "unnamed"
#: Characters Windows forbids in names (macOS Finder also maps ":"); "/" and "\\" separate.
_FORBIDDEN = frozenset('<>:"/\\|?*')
#: Unicode categories replaced: controls, format characters (bidi overrides that disguise an
#: extension, zero-width joiners), line and paragraph separators, surrogates.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)
_MAX_EXT_BYTES = 20
_HASH_SUFFIX_HEX = 8


def object_path(object_id: str) -> str:
    """The object's folder relative to the storage root, e.g. ``3c0/ff4/240/object-01``.

    Raises ``UnicodeEncodeError`` for an id that is not valid Unicode (lone surrogates).
    """
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    tuples = [digest[i * TUPLE_SIZE : (i + 1) * TUPLE_SIZE] for i in range(NUMBER_OF_TUPLES)]
    encoded = _UNSAFE_ID_CHAR.sub(
        lambda m: "".join(f"%{b:02x}" for b in m.group().encode("utf-8")), object_id
    )
    if len(encoded) > _MAX_ENCAPSULATION:
        encoded = f"{encoded[:_MAX_ENCAPSULATION]}-{digest}"
    return "/".join([*tuples, encoded])


def _unescape_surrogates(name: str) -> str:
    # os.fsdecode() turns each undecodable byte into U+DC80..U+DCFF; show it as %XX so that no
    # information is lost. Other lone surrogates cannot come from a file system: replace them.
    out: list[str] = []
    for ch in name:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            out.append(f"%{cp - 0xDC00:02X}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def _replace_bad(text: str) -> str:
    return "".join(
        "_" if ch in _FORBIDDEN or unicodedata.category(ch) in _BAD_CATEGORIES else ch
        for ch in text
    )


def _cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form has at most ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _shorten(text: str, original: str) -> str:
    dot = text.rfind(".")
    ext = text[dot:] if dot > 0 else ""
    if not 1 < len(ext.encode("utf-8")) <= _MAX_EXT_BYTES or " " in ext:
        ext = ""
    stem = text[: len(text) - len(ext)]
    # A digest of the whole original name keeps two long names that share a prefix apart.
    full = original.encode("utf-8", errors="surrogatepass")
    suffix = "~" + hashlib.sha256(full).hexdigest()[:_HASH_SUFFIX_HEX]
    budget = MAX_NAME_BYTES - len(suffix.encode()) - len(ext.encode("utf-8"))
    stem = unicodedata.normalize("NFC", _cut_utf8(stem, budget))
    while len(stem.encode("utf-8")) > budget:  # NFC may, rarely, lengthen a cut string
        stem = stem[:-1]
    return stem + suffix + ext


def safe_logical_name(name: str) -> str:
    """One path segment for an arbitrary original file name; deterministic and idempotent.

    The result is NFC-normalised valid UTF-8, at most 200 bytes, contains no control or format
    characters, none of ``<>:"/\\|?*``, does not start with "." nor end with "." or " ", is
    not a Windows device name, and keeps the extension when it has to be shortened.
    Undecodable bytes (surrogate escapes) become ``%XX``.
    """
    text = unicodedata.normalize("NFC", _unescape_surrogates(name))
    text = _replace_bad(text).strip(" ")
    if text.startswith("."):
        text = "_" + text.lstrip(".")
    text = text.rstrip(". ")
    if not text:
        text = _EMPTY_NAME
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        text = "_" + text
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = _shorten(text, name)
    return text


def json_bytes(value: object) -> bytes:
    """Our JSON files' bytes: sorted keys, 2-space indent, UTF-8, a final newline."""
    return (indented_json(value) + "\n").encode()


def init_storage_root(root: Path) -> None:
    """Make ``root`` (created if absent) an OCFL 1.1 storage root with the 0003 layout.

    The declaration ``0=ocfl_1.1`` is written last, so an interrupted call can be repeated;
    :class:`StorageError` if ``root`` already is a storage root.
    """
    if (root / ROOT_NAMASTE).exists():
        raise StorageError("This folder is already an OCFL storage root.", path=root)
    ext_dir = root / "extensions" / LAYOUT_NAME
    ext_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "extensionName": LAYOUT_NAME,
        "digestAlgorithm": LAYOUT_DIGEST,
        "tupleSize": TUPLE_SIZE,
        "numberOfTuples": NUMBER_OF_TUPLES,
    }
    layout = {"extension": LAYOUT_NAME, "description": LAYOUT_DESCRIPTION}
    write_atomic(ext_dir / "config.json", json_bytes(config))
    write_atomic(root / "ocfl_layout.json", json_bytes(layout))
    write_atomic(root / ROOT_NAMASTE, b"ocfl_1.1\n")
    for folder in (ext_dir.parent, root.parent):
        fsync_dir(folder)


def walk_storage_root(root: Path) -> Iterator[tuple[str, Path]]:
    """("object" | "empty" | "stray", path) for everything in a storage hierarchy: object
    folders, empty folders and files outside objects (``extensions/`` is skipped)."""
    return _walk(root, True)


def _walk(folder: Path, top: bool) -> Iterator[tuple[str, Path]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        entries = []
    if not top and not entries:
        yield "empty", folder
    if not top and any(e.name == OBJECT_NAMASTE for e in entries):
        yield "object", folder
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False) and not (top and e.name == "extensions"):
            yield from _walk(Path(e.path), False)
        elif not top:
            yield "stray", Path(e.path)


def list_object_dirs(root: Path, *, top: bool = True) -> Iterator[Path]:
    """Every object folder (one holding ``0=ocfl_object_1.1``) under the storage root, in a
    stable order; objects are not descended into, ``extensions/`` is skipped. ``top=False``:
    ``root`` is a folder inside the storage hierarchy."""
    for kind, path in _walk(root, top):
        if kind == "object":
            yield path
