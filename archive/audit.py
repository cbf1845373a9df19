"""Audit over time: prove that the custody log still extends a checkpoint an auditor kept.

An auditor keeps a signed checkpoint (``constancia checkpoint``). Years later, ``audit
--since FILE`` builds the RFC 9162 consistency proof from that checkpoint to the current one,
checks it, and lists what was appended since. A rewritten history cannot produce a valid
proof: the audit fails with CHECKPOINT_INCONSISTENT. Only reads.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from archive import merkle
from archive.checkpoint import Checkpoint, open_checkpoint
from archive.custody_log import event_signer_key, parse_event, read_lines
from archive.findings import Code, Finding
from archive.store import Archive
from constancia.errors import ConstanciaError, FormatError, ProofError, SignatureError


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


@dataclass
class AuditReport:
    since: Checkpoint | None = None
    current: Checkpoint | None = None
    proof: list[bytes] = field(default_factory=list)
    appended: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        def cp(c: Checkpoint | None) -> dict[str, Any] | None:
            return None if c is None else {"size": c.size, "root": _b64(c.root)}

        return {
            "ok": self.ok,
            "since": cp(self.since),
            "current": cp(self.current),
            "consistency_proof": [_b64(h) for h in self.proof],
            "appended": len(self.appended),
            "events": [
                {k: e[k] for k in ("seq", "time", "action", "artefact")}
                | {"actor": e["actor"].get("name")}
                for e in self.appended
            ],
            "problems": [p.to_json() for p in self.problems],
        }


def current_checkpoint(archive: Archive) -> tuple[bytes, Checkpoint]:
    """The latest signed checkpoint's note and its content, checked against the custodian."""
    note = archive.checkpoint_path.read_bytes()
    return note, open_checkpoint(note, archive.settings.origin, archive.custodian().public_key)


def audit_since(archive: Archive, kept: bytes) -> AuditReport:
    """Check that the log extends the checkpoint note ``kept``; list the events since."""
    report = AuditReport()
    problems = report.problems
    custodian = archive.custodian().public_key
    origin = archive.settings.origin
    try:
        report.since = open_checkpoint(kept, origin, custodian)
    except SignatureError as e:
        problems.append(
            Finding(
                Code.CHECKPOINT_SIGNATURE_INVALID,
                f"the kept checkpoint is not signed by this archive's custodian ({e.message})",
                path="(kept checkpoint)",
            )
        )
        return report
    except FormatError as e:
        problems.append(Finding(Code.CHECKPOINT_INVALID, e.message, path="(kept checkpoint)"))
        return report
    try:
        _, report.current = current_checkpoint(archive)
    except (OSError, ConstanciaError) as e:
        problems.append(
            Finding(
                Code.CHECKPOINT_SIGNATURE_INVALID,
                f"the archive's latest checkpoint does not verify ({e})",
                path="custody/checkpoint",
            )
        )
        return report
    old, new = report.since, report.current
    lines = read_lines(archive.log_path).lines
    if new.size > len(lines):
        problems.append(
            Finding(
                Code.LOG_TRUNCATED,
                f"the latest checkpoint covers {new.size} events but the log holds {len(lines)}",
                path="custody/log.jsonl",
            )
        )
        return report
    hashes = [merkle.leaf_hash(line) for line in lines[: new.size]]
    if merkle.root_from_leaf_hashes(hashes) != new.root:
        problems.append(
            Finding(
                Code.LOG_ROOT_MISMATCH,
                f"the log's first {new.size} events do not hash to the latest signed root",
                path="custody/log.jsonl",
            )
        )
    _check_issued(archive, kept, old, problems)
    if old.size > new.size:
        problems.append(
            Finding(
                Code.CHECKPOINT_INCONSISTENT,
                f"the kept checkpoint covers {old.size} events, more than the archive's "
                f"latest ({new.size}): the log was cut back",
                path="custody/checkpoint",
            )
        )
        return report
    report.proof = merkle.consistency_proof(hashes, old.size)
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, report.proof)
    except ProofError:
        problems.append(
            Finding(
                Code.CHECKPOINT_INCONSISTENT,
                f"the log no longer extends the kept checkpoint of {old.size} events: "
                "history before it was rewritten",
                path="custody/log.jsonl",
            )
        )
        return report
    keys = {k.fingerprint: k.public_key for k in archive.keys().values()}
    for n, line in enumerate(lines[old.size : new.size], start=old.size + 1):
        try:
            event = parse_event(line)
            if keys.get(event["actor"]["key"]) != event_signer_key(event):
                raise SignatureError("signed by a key not registered in keys/")
        except (FormatError, SignatureError) as e:
            code = (
                Code.LOG_LINE_INVALID
                if isinstance(e, FormatError)
                else (Code.EVENT_SIGNATURE_INVALID)
            )
            problems.append(Finding(code, f"line {n}: {e.message}", path="custody/log.jsonl"))
            continue
        report.appended.append(event)
    return report


def _check_issued(archive: Archive, kept: bytes, old: Checkpoint, problems: list[Finding]) -> None:
    """Two different signed checkpoints for one size are proof of a forked log."""
    stored = archive.checkpoints_dir / str(old.size)
    try:
        ours = open_checkpoint(
            stored.read_bytes(), archive.settings.origin, archive.custodian().public_key
        )
    except (OSError, ConstanciaError):
        return  # not kept here (verify reports damaged checkpoints)
    if ours.root != old.root:
        problems.append(
            Finding(
                Code.CHECKPOINT_INCONSISTENT,
                f"the archive holds another signed checkpoint for {old.size} events: "
                "the custodian signed two different histories",
                path=f"custody/checkpoints/{old.size}",
            )
        )
