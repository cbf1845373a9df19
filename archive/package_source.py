"""An evidence package (docs/evidence-package.md) as an import source.

The bag itself has been checked (:mod:`archive.bag_source`). Here each artefact folder is
read: its record must parse and name an original whose digests it states, and nothing else
may sit in the folder. The record kept is the package's (one version). The proofs (the
signatures, the custody events with their inclusion proofs, the checkpoint) are checked by
the package checker every recipient runs (:mod:`archive.bagcheck`, the package's verify.py):
what fails there is a proof problem, for the user to refuse or to accept with a reason;
unreadable or altered bytes are structural and refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from archive import bagcheck, sshsig
from archive.bag_source import Bag
from archive.checkpoint import Checkpoint
from archive.findings import Code, Finding
from archive.identity import Identity, identity_from_public_line
from archive.import_source import (
    HOSTILE_HINT,
    LIMIT_RECORD,
    LIMIT_SMALL,
    HistoryFile,
    SourceArtefact,
    SourceFile,
    SourcePlan,
    SourceRefused,
    SourceVersion,
    open_regular,
    origin_slug,
    refuse_if,
    unsafe_path,
)
from archive.note import parse_note
from artefacts.record import parse_record
from constancia.errors import ConstanciaError

_ID = re.compile(r"[0-9a-f]{64}")
_PREFIX = "data/artefacts/"


def plan_package(
    root: Path,
    bag: Bag,
    files: dict[str, int],
    payload: dict[str, dict[str, str]],
    plan: SourcePlan,
) -> SourcePlan:
    problems: list[Finding] = []
    origin = bag.value("Internal-Sender-Identifier")
    if not origin or "sha256" not in bag.payload or "sha512" not in bag.payload:
        problems.append(
            Finding(
                Code.BAG_INVALID,
                "a package names its archive (Internal-Sender-Identifier) and has sha256 "
                "and sha512 manifests",
                path="bag-info.txt",
            )
        )
    for name in ("checkpoint", "events.jsonl", "proofs.jsonl"):
        rel = f"data/custody/{name}"
        if rel not in files:
            problems.append(Finding(Code.FILE_MISSING, "a package must hold it", path=rel))
    keys = _keys(root, files, problems)
    refuse_if(problems, root)
    plan.origin = origin
    plan.name = bag.value("Source-Organization")
    plan.keys = sorted(keys.values(), key=lambda k: k.key_file_stem)
    folders = {rel[len(_PREFIX) :].split("/")[0] for rel in files if rel.startswith(_PREFIX)}
    for art in sorted(folders):
        artefact = _artefact(root, art, files, payload, problems)
        if artefact is not None:
            plan.artefacts.append(artefact)
    refuse_if(problems, root)
    verdict = bagcheck.check_package(root, ed25519_verify=sshsig.ed25519_verify)
    found = [_finding(p) for p in verdict["problems"]]
    refuse_if(found, root)
    plan.problems = found
    _checkpoint(root, plan)
    _history(root, files, bag, plan)
    return plan


def _finding(problem: dict[str, Any]) -> Finding:
    try:
        code = Code(problem["code"])
    except ValueError:
        code = Code.BAG_INVALID  # a code this version does not know: treat as structural
    return Finding(code, str(problem["message"]), id=problem.get("id"), path=problem.get("path"))


def _checkpoint(root: Path, plan: SourcePlan) -> None:
    """The checkpoint's size and root (its signature was checked with everything else)."""
    try:
        with open_regular(root / "data/custody/checkpoint") as f:
            cp = Checkpoint.parse(parse_note(f.read(LIMIT_SMALL)).text)
    except (OSError, ConstanciaError):
        return
    plan.checkpoint_size, plan.checkpoint_root = cp.size, cp.root


def _keys(root: Path, files: dict[str, int], problems: list[Finding]) -> dict[str, Identity]:
    keys: dict[str, Identity] = {}
    for rel in sorted(files):
        if not (rel.startswith("data/keys/") and rel.endswith(".pub")) or rel.count("/") != 2:
            continue
        try:
            with open_regular(root / rel) as f:
                ident = identity_from_public_line(f.read(LIMIT_SMALL).decode("utf-8").strip())
        except (OSError, UnicodeDecodeError, ConstanciaError) as e:
            problems.append(Finding(Code.KEY_INVALID, f"unreadable public key ({e})", path=rel))
            continue
        keys[ident.fingerprint] = ident
    return keys


def _artefact(
    root: Path,
    art: str,
    files: dict[str, int],
    payload: dict[str, dict[str, str]],
    problems: list[Finding],
) -> SourceArtefact | None:
    """One artefact folder: its record, the original and derived files the record names."""
    base = f"{_PREFIX}{art}/"
    record_rel = base + "record.json"
    if not _ID.fullmatch(art):
        problems.append(Finding(Code.BAG_INVALID, "not an artefact ID", path=base))
        return None
    if record_rel not in files or files[record_rel] > LIMIT_RECORD:
        problems.append(Finding(Code.RECORD_MISSING, "no readable record.json", id=art, path=base))
        return None
    try:
        with open_regular(root / record_rel) as f:
            record = parse_record(f.read())
        named = {"record.json", "record.json.sig", str(record["original"]["path"])}
        named |= {str(d["path"]) for d in (record.get("derived") or {}).values()}
    except (OSError, ConstanciaError, KeyError, TypeError) as e:
        problems.append(Finding(Code.RECORD_INVALID, str(e), id=art, path=record_rel))
        return None
    present = {rel[len(base) :] for rel in files if rel.startswith(base)}
    for logical in sorted(present - named):
        problems.append(
            Finding(Code.UNEXPECTED_FILE, "not named by the record", id=art, path=base + logical)
        )
    for logical in sorted(named - present - {"record.json.sig"}):
        problems.append(
            Finding(Code.FILE_MISSING, "named by the record", id=art, path=base + logical)
        )
    version: dict[str, SourceFile] = {}
    for logical in sorted(named & present):
        rel = base + logical
        if unsafe_path(logical) is not None:
            problems.append(Finding(Code.BAG_INVALID, "an unsafe path", id=art, path=rel))
            continue
        digests = payload[rel]
        path = os.fspath(root / rel)
        version[logical] = SourceFile(path, digests["sha512"], digests["sha256"], files[rel])
    original = record["original"]
    orig = version.get(str(original["path"]))
    if orig is not None and (
        (orig.sha256, orig.sha512) != (original["sha256"], original["sha512"])
        or orig.sha256 != art
        or record.get("id") != art
        or original.get("size") not in (None, orig.size)
    ):
        problems.append(
            Finding(
                Code.RECORD_DIGEST_MISMATCH,
                "the original differs from the digests in its signed record",
                id=art,
                path=base + str(original["path"]),
            )
        )
    for name, info in (record.get("derived") or {}).items():
        held = version.get(str(info.get("path")))
        if held is not None and held.sha256 != info.get("sha256"):
            problems.append(
                Finding(
                    Code.RECORD_DIGEST_MISMATCH,
                    f"the derived {name} differs from the digest in the signed record",
                    id=art,
                    path=base + str(info.get("path")),
                )
            )
    return SourceArtefact(art, [SourceVersion(1, version)])


def _history(root: Path, files: dict[str, int], bag: Bag, plan: SourcePlan) -> None:
    """The checkpoint and keys under the origin's folder; the package's own custody files
    and tag files in a folder of their own (several packages share one checkpoint)."""
    ident = plan.package or ""
    if not ident:
        with open_regular(root / "tagmanifest-sha512.txt") as f:
            ident = "sha256-" + hashlib.sha256(f.read()).hexdigest()[:16]
    wanted = {
        "checkpoint": "data/custody/checkpoint",
        **{
            rel.removeprefix("data/"): rel
            for rel in files
            if rel.startswith("data/keys/") and rel.endswith((".pub", ".pem"))
        },
    }
    folder = f"packages/{origin_slug(ident)}"
    for name in ("events.jsonl", "proofs.jsonl"):
        wanted[f"{folder}/{name}"] = f"data/custody/{name}"
    for name in ("bag-info.txt", "tagmanifest-sha512.txt", "tagmanifest-sha512.txt.sig"):
        if name in files:
            wanted[f"{folder}/{name}"] = name
    for target, rel in wanted.items():
        with open_regular(root / rel) as f:
            data = f.read()
        plan.history[target] = HistoryFile(root / rel, len(data), hashlib.sha256(data).hexdigest())
    if plan.checkpoint_size is None:
        raise SourceRefused(
            "its checkpoint cannot be read",
            [Finding(Code.CHECKPOINT_INVALID, "unreadable", path="data/custody/checkpoint")],
            path=root,
            hint=HOSTILE_HINT,
        )
