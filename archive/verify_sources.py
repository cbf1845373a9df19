"""Re-proving the custody histories kept from imports (``custody/sources/<origin>/<N>/``).

Each folder holds a source's signed checkpoint at tree size N and its public keys; for a field
archive also its log's first N lines and every earlier checkpoint, for an evidence package its
events with their inclusion proofs. The checkpoint must verify by one of the kept keys under
its own origin, the log must hash to its root (and to every earlier checkpoint's), and every
package event must be proven included: then the history before the transfer is exactly what
the source's custodian signed. Reads only; problems are SOURCE_HISTORY_INVALID.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from archive import merkle
from archive.checkpoint import Checkpoint, open_checkpoint
from archive.findings import Code, Finding
from archive.identity import Identity, identity_from_public_line
from archive.note import parse_note
from archive.store import Archive
from constancia.errors import ConstanciaError


def check_sources(archive: Archive, problems: list[Finding]) -> None:
    root = archive.custody / "sources"
    if not root.is_dir():
        return
    for origin in sorted(p for p in root.iterdir() if p.is_dir()):
        for folder in sorted(p for p in origin.iterdir() if p.is_dir()):
            rel = folder.relative_to(archive.root).as_posix()
            for message in _check_folder(folder):
                problems.append(Finding(Code.SOURCE_HISTORY_INVALID, message, path=rel))


def _keys(folder: Path) -> list[Identity]:
    keys = []
    for pub in sorted((folder / "keys").glob("*.pub")):
        try:
            keys.append(identity_from_public_line(pub.read_text(encoding="utf-8").strip()))
        except (OSError, UnicodeDecodeError, ConstanciaError):
            continue
    return keys


def _open(data: bytes, keys: list[Identity]) -> Checkpoint | None:
    """The checkpoint, if one of ``keys`` signed it under its own origin."""
    try:
        origin = Checkpoint.parse(parse_note(data).text).origin
    except ConstanciaError:
        return None
    for key in keys:
        try:
            return open_checkpoint(data, origin, key.public_key)
        except ConstanciaError:
            continue
    return None


def _check_folder(folder: Path) -> list[str]:
    keys = _keys(folder)
    try:
        cp = _open((folder / "checkpoint").read_bytes(), keys)
    except OSError:
        return ["the kept checkpoint is missing"]
    if cp is None:
        return ["the kept checkpoint does not verify by any kept key"]
    if str(cp.size) != folder.name:
        return [f"the kept checkpoint is for {cp.size} events, not {folder.name}"]
    out: list[str] = []
    log = folder / "log.jsonl"
    if log.exists():
        out += _check_log(log.read_bytes(), cp, folder, keys)
    for events in sorted(folder.glob("packages/*/events.jsonl")):
        out += _check_proofs(events, events.with_name("proofs.jsonl"), cp)
    return out


def _check_log(data: bytes, cp: Checkpoint, folder: Path, keys: list[Identity]) -> list[str]:
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else None
    if lines is None or len(lines) != cp.size:
        return [f"the kept log does not hold exactly the {cp.size} events its checkpoint covers"]
    earlier: dict[int, tuple[str, bytes]] = {}
    for p in sorted((folder / "checkpoints").glob("*")):
        old = _open(p.read_bytes(), keys)
        if old is None:
            return [f"kept checkpoint {p.name} does not verify by any kept key"]
        earlier[old.size] = (p.name, old.root)
    tree = merkle.TreeBuilder()
    out = []
    for line in lines:
        tree.append(line)
        if tree.size in earlier and tree.root() != earlier[tree.size][1]:
            out.append(f"the kept log does not extend kept checkpoint {earlier[tree.size][0]}")
    if tree.root() != cp.root:
        out.append("the kept log does not hash to its checkpoint's root")
    return out


def _check_proofs(events: Path, proofs: Path, cp: Checkpoint) -> list[str]:
    rel = f"packages/{events.parent.name}"
    try:
        pairs = list(
            zip(events.read_bytes().splitlines(), proofs.read_bytes().splitlines(), strict=True)
        )
    except (OSError, ValueError):
        return [f"{rel}: the kept events and proofs do not match one for one"]
    for n, (line, proof_line) in enumerate(pairs, start=1):
        try:
            proof = json.loads(proof_line)
            hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
            if proof["size"] != cp.size:
                raise ValueError("a proof for another tree")
            leaf = merkle.leaf_hash(line)
            merkle.verify_inclusion(leaf, proof["index"], cp.size, hashes, cp.root)
        except (ValueError, KeyError, TypeError, binascii.Error, ConstanciaError) as e:
            return [f"{rel}: event {n} is not proven in the kept checkpoint ({e})"]
    return []
