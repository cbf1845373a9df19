"""Another Constancia archive (a field laptop's) as an import source.

It must pass `constancia verify` (read only, under its shared lock); its objects are read
version by version, and its custody log, as far as its latest checkpoint covers it, is kept
with the checkpoints, settings and keys, so the history before the transfer stays provable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from archive import merkle, ocfl
from archive.checkpoint import Checkpoint, open_checkpoint
from archive.custody_log import read_lines
from archive.findings import Code, Finding
from archive.import_source import (
    HOSTILE_HINT,
    LIMIT_INVENTORY,
    LIMIT_LINE,
    LIMIT_RECORD,
    LIMIT_SMALL,
    HistoryFile,
    SourceArtefact,
    SourceFile,
    SourcePlan,
    SourceRefused,
    SourceVersion,
    long_line,
    refuse_if,
    scan_tree,
    unsafe_path,
)
from archive.note import parse_note
from archive.store import ID_RE, SETTINGS_NAME, Archive
from archive.verify import verify_archive
from constancia.errors import ConstanciaError

#: The parts of a source archive that are read. index/ is a cache and is not taken; tmp/
#: holds an interrupted command's leftovers, which verify names.
_PARTS = (SETTINGS_NAME, "objects", "custody", "keys", "tmp")


def plan_archive(path: Path, *, wait: float = 60.0) -> SourcePlan:
    """A field archive: it must pass `constancia verify`, read only."""
    problems: list[Finding] = []
    files = scan_tree(path, problems, only=_PARTS, bad=Code.UNEXPECTED_FILE)
    _check_archive_sizes(path, files, problems)
    refuse_if(problems, path)
    try:
        src = Archive.open(path)
    except ConstanciaError as e:
        raise SourceRefused(
            f"its settings cannot be read ({e.message})",
            [Finding(Code.SETTINGS_INVALID, e.message, path=SETTINGS_NAME)],
            path=path,
            hint=HOSTILE_HINT,
        ) from None
    with src.lock(wait=wait, shared=True):
        report = verify_archive(src)
        refuse_if(report.problems, path)
        plan = SourcePlan("archive", path, src.settings.origin, src.settings.name)
        plan.problems = list(report.problems)
        for art in _artefact_ids(files):
            plan.artefacts.append(_source_artefact(src, art, files))
        plan.total_bytes = sum(
            f.size for a in plan.artefacts for v in a.versions for f in v.files.values()
        )
        plan.keys = sorted(src.keys().values(), key=lambda k: k.key_file_stem)
        _archive_history(src, files, plan)
    return plan


def _artefact_ids(files: dict[str, int]) -> list[str]:
    """The objects the scan found (what `Archive.artefact_ids` would list, without walking
    the storage root again)."""
    ids = []
    for rel in files:
        folder, _, name = rel.rpartition("/")
        if name == "0=ocfl_object_1.1" and rel.startswith("objects/"):
            leaf = folder.rpartition("/")[2]
            if leaf.startswith("urn%3asha256%3a") and ID_RE.fullmatch(leaf[15:]):
                ids.append(leaf[15:])
    return sorted(ids)


def _check_archive_sizes(root: Path, files: dict[str, int], problems: list[Finding]) -> None:
    for rel, size in files.items():
        name = rel.rsplit("/", 1)[-1]
        limit = {"record.json": LIMIT_RECORD, "inventory.json": LIMIT_INVENTORY}.get(name)
        if (
            limit is None
            and not rel.startswith(("objects/", "tmp/", "custody/sources/"))
            and rel != "custody/log.jsonl"
        ):
            limit = LIMIT_SMALL  # settings, keys, checkpoints
        if limit is not None and size > limit:
            problems.append(
                Finding(Code.UNEXPECTED_FILE, f"is absurdly large ({size} bytes)", path=rel)
            )
    if "custody/log.jsonl" in files:
        n = long_line(root / "custody/log.jsonl")
        if n is not None:
            problems.append(
                Finding(
                    Code.LOG_LINE_INVALID,
                    f"line {n} is longer than {LIMIT_LINE} bytes",
                    path="custody/log.jsonl",
                )
            )


def _source_artefact(src: Archive, art: str, files: dict[str, int]) -> SourceArtefact:
    rel = src.object_rel(art)
    folder = src.root / rel
    base = os.fspath(folder)
    try:
        inv = ocfl.read_inventory(folder)
        manifest = inv["manifest"]
        sha256_of = {p: d for d, ps in inv["fixity"]["sha256"].items() for p in ps}
        versions = []
        for k in range(1, ocfl.head_number(inv) + 1):
            state = inv["versions"][f"v{k}"]["state"]
            found: dict[str, SourceFile] = {}
            for digest, logicals in state.items():
                content = manifest[digest][0]
                for p in (content, *logicals):
                    if unsafe_path(p) is not None:
                        raise KeyError(f"{p!r} is {unsafe_path(p)}")
                size = files[f"{rel}/{content}"]
                sf = SourceFile(f"{base}/{content}", digest, sha256_of[content], size)
                for logical in logicals:
                    found[logical] = sf
            if "record.json" not in found:
                raise KeyError("record.json")
            versions.append(SourceVersion(k, found))
    except (ConstanciaError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise SourceRefused(
            f"artefact {art[:16]} cannot be read ({e})",
            [Finding(Code.INVENTORY_INVALID, "unreadable inventory", id=art, path=rel)],
            path=src.root,
            hint=HOSTILE_HINT,
        ) from None
    return SourceArtefact(art, versions)


def _archive_history(src: Archive, files: dict[str, int], plan: SourcePlan) -> None:
    """The log as far as the source's checkpoint covers it, the checkpoints, settings and
    keys: enough for an auditor to re-prove the history before the transfer."""
    lines = read_lines(src.log_path).lines
    cp = _read_checkpoint(src)
    size = cp.size if cp is not None and cp.size <= len(lines) else len(lines)
    tree = merkle.TreeBuilder()
    for line in lines[:size]:
        tree.append(line)
    plan.checkpoint_size = size
    plan.checkpoint_root = cp.root if cp is not None and cp.size == size else tree.root()
    prefix = b"".join(line + b"\n" for line in lines[:size])
    plan.history["log.jsonl"] = HistoryFile(
        src.log_path, len(prefix), hashlib.sha256(prefix).hexdigest()
    )
    for rel in sorted(files):
        top, _, rest = rel.partition("/")
        kept = (
            rel in (SETTINGS_NAME, "custody/checkpoint")
            or (top == "custody" and rest.startswith("checkpoints/") and rest.count("/") == 1)
            or (top == "keys" and rest.endswith((".pub", ".pem")) and "/" not in rest)
            # the histories the source kept from its own imports travel with it
            or (top == "custody" and rest.startswith("sources/"))
        )
        if not kept:
            continue
        target = rel.removeprefix("custody/")
        data = (src.root / rel).read_bytes()
        plan.history[target] = HistoryFile(
            src.root / rel, len(data), hashlib.sha256(data).hexdigest()
        )


def _read_checkpoint(src: Archive) -> Checkpoint | None:
    """The source's latest checkpoint: verified if it can be; otherwise (a problem the user
    accepted) as it reads; None if it cannot be read at all."""
    try:
        data = src.checkpoint_path.read_bytes()
    except OSError:
        return None
    try:
        return open_checkpoint(data, src.settings.origin, src.custodian().public_key)
    except (ConstanciaError, OSError):
        pass
    try:
        return Checkpoint.parse(parse_note(data).text)
    except ConstanciaError:
        return None
