"""What an import would take in, read and checked before anything is written: the plan.

A source is another Constancia archive (a field laptop's), an evidence package made by
`constancia export`, or a plain BagIt bag. :func:`plan_source` reads all of it, never following
a symbolic link and never reading outside it, and returns a :class:`SourcePlan`: the
artefacts with every record version and where each file's bytes are, the custody history to
keep, the keys to register, and the verification problems found.

Two kinds of trouble. *Structural* problems (paths that leave the source, links, devices,
files no manifest lists, listed files that are missing, absurd sizes or counts, broken JSON,
content that differs from its digests) make the source unreadable as evidence: they raise
:class:`SourceRefused`, always. *Proof* problems (a signature that does not verify, a log that
does not reach its checkpoint) leave the bytes intact but unproven: they are listed in
:attr:`SourcePlan.problems`, and the import refuses them unless the user records why they
accept them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.findings import Code, Finding
from archive.identity import Identity
from archive.store import SETTINGS_NAME
from constancia.errors import FormatError, ProofError, UsageError

#: More entries than this (files and folders) is not a field archive or a package: refused.
LIMIT_ENTRIES = 1_000_000
#: A custody log line, a manifest line, a bag-info.txt: longer is refused.
LIMIT_LINE = 1 << 20
LIMIT_RECORD = 16 << 20
LIMIT_INVENTORY = 64 << 20
#: Key files, checkpoints, settings.
LIMIT_SMALL = 1 << 20
#: No single file of evidence is 16 TiB; a size beyond this is a lie or an attack.
LIMIT_FILE = 1 << 44

#: Problems that make a source unreadable or its bytes untrustworthy: never imported.
STRUCTURAL = frozenset(
    {
        Code.FILE_MISSING,
        Code.UNEXPECTED_FILE,
        Code.FIXITY_MISMATCH,
        Code.INVENTORY_MISSING,
        Code.INVENTORY_INVALID,
        Code.INVENTORY_DIGEST_MISMATCH,
        Code.OBJECT_INVALID,
        Code.RECORD_MISSING,
        Code.RECORD_INVALID,
        Code.RECORD_DIGEST_MISMATCH,
        Code.LOG_MISSING,
        Code.LOG_LINE_INVALID,
        Code.KEY_INVALID,
        Code.SETTINGS_INVALID,
        Code.BAG_INVALID,
        Code.PAYLOAD_OXUM_MISMATCH,
    }
)

HOSTILE_HINT = "nothing was written; ask whoever sent it for an intact copy"


class SourceRefused(FormatError):
    """The source is structurally unsound: refused whatever the user accepts."""

    def __init__(self, message: str, problems: list[Finding], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.problems = problems


class SourceUnverified(ProofError):
    """The source's signatures or history do not prove out, and the user did not accept it."""

    def __init__(self, message: str, problems: list[Finding], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SourceFile:
    """Where one content file's bytes are in the source, and what they must hash to."""

    path: str  # a str, not a Path: a plan holds one per file of the source
    sha512: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SourceVersion:
    number: int  # the version's number in the source
    files: dict[str, SourceFile]  # logical path -> file; includes record.json and its .sig


@dataclass(frozen=True)
class SourceArtefact:
    id: str
    versions: list[SourceVersion]


@dataclass(frozen=True)
class HistoryFile:
    """A custody file kept under custody/sources/: the first ``size`` bytes of ``path``."""

    path: Path
    size: int
    sha256: str


@dataclass
class SourcePlan:
    kind: str  # "archive", "package" or "bag"
    path: Path
    origin: str | None = None
    name: str | None = None
    checkpoint_size: int | None = None
    checkpoint_root: bytes | None = None
    package: str | None = None  # External-Identifier of a bag
    bag_info: dict[str, str] = field(default_factory=dict)
    artefacts: list[SourceArtefact] = field(default_factory=list)
    keys: list[Identity] = field(default_factory=list)
    history: dict[str, HistoryFile] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)
    payload_sha256: dict[str, str] = field(default_factory=dict)  # plain bag: path -> digest
    total_bytes: int = 0

    @property
    def history_rel(self) -> str | None:
        """Where the source's custody history is kept in the receiving archive."""
        if self.origin is None or self.checkpoint_size is None:
            return None
        return f"custody/sources/{origin_slug(self.origin)}/{self.checkpoint_size}"

    def source_json(self) -> dict[str, Any]:
        """The ``source`` block of import events."""
        checkpoint = None
        if self.checkpoint_size is not None and self.checkpoint_root is not None:
            root = base64.b64encode(self.checkpoint_root).decode("ascii")
            checkpoint = {"size": self.checkpoint_size, "root": root}
        return {
            "kind": self.kind,
            "path": os.fsencode(self.path).decode("utf-8", "replace"),
            "origin": self.origin,
            "checkpoint": checkpoint,
            "package": self.package,
        }


def origin_slug(origin: str) -> str:
    """A folder name for a source's origin: readable, and distinct for distinct origins."""
    base = re.sub(r"[^a-z0-9]+", "-", origin.lower()).strip("-")[:80] or "source"
    return f"{base}-{hashlib.sha256(origin.encode('utf-8')).hexdigest()[:8]}"


def detect(path: Path) -> str:
    """``archive``, ``package`` or ``bag``; UsageError if ``path`` is none of them."""
    shown = os.fsencode(path).decode("utf-8", "replace")
    if path.is_symlink():
        raise UsageError(
            "is a symbolic link; links are never followed",
            path=shown,
            hint="give the folder it points to",
        )
    if not path.is_dir():
        raise UsageError("no such folder", path=shown, hint="check the path and try again")
    if os.path.lexists(path / SETTINGS_NAME):
        return "archive"
    if os.path.lexists(path / "bagit.txt"):
        info = path / "bag-info.txt"
        if info.is_file() and not info.is_symlink() and info.stat().st_size <= LIMIT_LINE:
            text = info.read_bytes().decode("utf-8", "replace")
            m = re.search(r"(?m)^Constancia-Package:[ \t]*(\S*)", text)
            if m and m[1] == "constancia-package/1":
                return "package"
            if m:
                raise UsageError(
                    f"is an evidence package of a format this version does not read ({m[1]})",
                    path=shown,
                    hint="import it with a newer Constancia",
                )
        return "bag"
    raise UsageError(
        "is neither a Constancia archive, an evidence package nor a BagIt bag",
        path=shown,
        hint="give the folder that holds constancia.yaml, or bagit.txt",
    )


def plan_source(path: Path, *, wait: float = 60.0) -> SourcePlan:
    """Read and check the whole source. :class:`SourceRefused` on structural problems;
    proof problems are returned in the plan for the caller to refuse or accept."""
    path = path.absolute()
    kind = detect(path)
    if kind == "archive":
        from archive.source_archive import plan_archive

        return plan_archive(path, wait=wait)
    from archive.bag_source import plan_bag

    return plan_bag(path, kind)


# ---- reading safely ------------------------------------------------------------------------


def scan_tree(
    root: Path,
    problems: list[Finding],
    *,
    only: tuple[str, ...] | None = None,
    bad: Code = Code.BAG_INVALID,
) -> dict[str, int]:
    """Every regular file under ``root`` (``/``-separated relative path -> size), walked
    without following links. Links, devices, pipes and sockets are problems; more than
    :data:`LIMIT_ENTRIES` entries is refused at once. ``only``: top-level names to walk;
    ``bad``: the code for what is unreadable or absurd."""
    files: dict[str, int] = {}
    entries = 0
    stack = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                listing = list(it)
        except OSError as e:
            problems.append(Finding(bad, f"cannot be listed ({e.strerror})", path=prefix or "."))
            continue
        for entry in listing:
            if not prefix and only is not None and entry.name not in only:
                continue
            entries += 1
            if entries > LIMIT_ENTRIES:
                raise SourceRefused(
                    f"holds more than {LIMIT_ENTRIES:,} files and folders",
                    [Finding(bad, "too many entries", path=".")],
                    path=root,
                    hint=HOSTILE_HINT,
                )
            rel = prefix + entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                problems.append(Finding(Code.FILE_MISSING, f"cannot be read ({e})", path=rel))
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                files[rel] = st.st_size
                if st.st_size > LIMIT_FILE:
                    problems.append(Finding(bad, f"is absurdly large ({st.st_size})", path=rel))
            elif stat.S_ISLNK(st.st_mode):
                problems.append(
                    Finding(
                        Code.UNEXPECTED_FILE,
                        "is a symbolic link; links are never followed",
                        path=rel,
                    )
                )
            else:
                problems.append(
                    Finding(
                        Code.UNEXPECTED_FILE,
                        "is not a regular file (a device, pipe or socket)",
                        path=rel,
                    )
                )
    return files


def long_line(path: Path, limit: int | None = None) -> int | None:
    """The number of the first line of the file longer than ``limit`` bytes (default
    :data:`LIMIT_LINE`), or None. Streams: one endless line is never read whole."""
    limit = LIMIT_LINE if limit is None else limit
    number, length = 1, 0
    with open_regular(path) as f:
        while chunk := f.read(1 << 20):
            pos = 0
            while True:
                nl = chunk.find(b"\n", pos)
                length += (len(chunk) if nl < 0 else nl) - pos
                if length > limit:
                    return number
                if nl < 0:
                    break
                number, length, pos = number + 1, 0, nl + 1
    return None


def open_regular(path: Path | str) -> Any:
    """Open a file for reading, refusing a symbolic link or anything not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb", buffering=0)


def unsafe_path(path: str) -> str | None:
    """Why ``path`` (from a manifest or inventory) cannot name a file inside the source."""
    if not path:
        return "an empty path"
    if path.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", path):
        return "an absolute path"
    parts = re.split(r"[/\\]", path)
    if ".." in parts:
        return "a path that leaves the source ('..')"
    if "" in parts or "." in parts:
        return "a path that is not normalised"
    if "\x00" in path:
        return "a path with a NUL byte"
    return None


def refuse_if(problems: list[Finding], root: Path) -> None:
    """Raise :class:`SourceRefused` if any problem is structural."""
    structural = [p for p in problems if p.code in STRUCTURAL]
    if structural:
        first = structural[0]
        raise SourceRefused(
            f"cannot be imported: {len(structural)} structural problem(s), first "
            f"{first.code} {first.path or ''}: {first.message}",
            structural,
            path=os.fsencode(root).decode("utf-8", "replace"),
            hint=HOSTILE_HINT,
        )
