"""Verification of the custody log and its checkpoints, and of the registered keys.

Reads only. The log must be canonical signed events in sequence; the latest checkpoint must
be the custodian's and cover the whole log; and the log as it is now must hash, at every
size a checkpoint was ever issued for, to that checkpoint's root.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from archive import merkle
from archive.checkpoint import Checkpoint, open_checkpoint
from archive.custody_log import ARRIVAL_ACTIONS, event_signer_key, parse_event, read_lines
from archive.findings import RECOVERABLE, Code, Finding
from archive.fsutil import TEMP_PREFIX
from archive.identity import Identity, identity_from_public_line
from archive.store import Archive
from constancia.errors import ConstanciaError, FormatError, SignatureError


@dataclass
class VerifyReport:
    artefacts: int = 0
    events: int = 0
    checkpoint_size: int | None = None
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def only_recoverable(self) -> bool:
        return bool(self.problems) and all(p.code in RECOVERABLE for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "artefacts": self.artefacts,
            "events": self.events,
            "checkpoint": self.checkpoint_size,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class LogState:
    """What the log says, as far as it could be read."""

    lines: list[bytes]
    events: list[dict[str, Any] | None]  # None where a line could not be parsed
    ingests: dict[str, dict[str, Any]]  # artefact -> its ingest event


def check_keys(archive: Archive, problems: list[Finding]) -> dict[str, Identity]:
    """Registered keys by fingerprint; each .pem must hold the same key as its .pub."""
    keys: dict[str, Identity] = {}
    for pub in sorted(archive.keys_dir.glob("*.pub")):
        rel = f"keys/{pub.name}"
        try:
            ident = identity_from_public_line(pub.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError, ConstanciaError) as e:
            problems.append(Finding(Code.KEY_INVALID, f"unreadable public key ({e})", path=rel))
            continue
        keys[ident.fingerprint] = ident
        pem = pub.with_suffix(".pem")
        if pem.exists() and pem.read_bytes() != ident.public_pem:
            problems.append(
                Finding(Code.KEY_INVALID, "the .pem key differs from the .pub key", path=rel)
            )
    cust = archive.settings.custodian_fingerprint
    if cust not in keys:
        problems.append(
            Finding(
                Code.SETTINGS_INVALID,
                "the custodian's key named in constancia.yaml is not among the registered keys",
                path="constancia.yaml",
            )
        )
    return keys


def check_log(archive: Archive, keys: dict[str, Identity], report: VerifyReport) -> LogState:
    """Events (form, signatures, order) and checkpoints (signatures, roots, consistency)."""
    problems = report.problems
    rel = "custody/log.jsonl"
    stored = read_lines(archive.log_path)
    if not archive.log_path.exists():
        problems.append(Finding(Code.LOG_MISSING, "the custody log is missing", path=rel))
    if stored.torn:
        problems.append(
            Finding(
                Code.LOG_TORN_WRITE,
                "the log ends in an interrupted write; the next writing command cuts it off",
                path=rel,
            )
        )
    state = LogState(stored.lines, [], {})
    seqs: list[int] = []
    per_line: list[list[Finding]] = []
    for n, line in enumerate(stored.lines, start=1):
        try:
            event = parse_event(line)
        except FormatError as e:
            per_line.append([Finding(Code.LOG_LINE_INVALID, f"line {n}: {e.message}", path=rel)])
            state.events.append(None)
            continue
        per_line.append([])
        state.events.append(event)
        seqs.append(event["seq"])
        if event["action"] in ARRIVAL_ACTIONS and isinstance(event["artefact"], str):
            state.ingests.setdefault(event["artefact"], event)

    def signatures(indexes: range) -> list[list[Finding]]:
        out = []
        for n in indexes:
            event = state.events[n]
            found: list[Finding] = []
            if event is not None:
                _check_event_signature(event, n + 1, keys, found)
            out.append(found)
        return out

    # Ed25519 checks release the GIL: two threads use both cores on a long log. Each takes
    # a run of events (a future per event costs a third as much as the check).
    count = len(state.events)
    if count >= 500:
        step = -(-count // 8)
        with ThreadPoolExecutor(2) as pool:
            runs = pool.map(
                signatures, [range(i, min(i + step, count)) for i in range(0, count, step)]
            )
            sigs = [found for run in runs for found in run]
    else:
        sigs = signatures(range(count))
    for line_findings, sig_findings in zip(per_line, sigs, strict=True):
        problems.extend(line_findings)
        problems.extend(sig_findings)
    _check_sequence(seqs, problems)
    report.events = len(stored.lines)
    _check_checkpoints(archive, stored.lines, report)
    return state


def _check_event_signature(
    event: dict[str, Any], n: int, keys: dict[str, Identity], problems: list[Finding]
) -> None:
    rel = "custody/log.jsonl"
    art = event["artefact"] if isinstance(event["artefact"], str) else None
    signer = keys.get(event["actor"]["key"])
    try:
        raw = event_signer_key(event)
    except SignatureError as e:
        problems.append(
            Finding(
                Code.EVENT_SIGNATURE_INVALID,
                f"line {n} (event {event['seq']}): {e.message}",
                id=art,
                path=rel,
            )
        )
        return
    if signer is None or signer.public_key != raw:
        problems.append(
            Finding(
                Code.SIGNER_UNKNOWN,
                f"line {n} (event {event['seq']}) is signed by a key not registered in keys/",
                id=art,
                path=rel,
            )
        )


def _check_sequence(seqs: list[int], problems: list[Finding]) -> None:
    rel = "custody/log.jsonl"
    if len(set(seqs)) != len(seqs):
        dup = sorted(s for s, k in Counter(seqs).items() if k > 1)[:5]
        problems.append(Finding(Code.LOG_EVENT_DUPLICATED, f"events appear twice: {dup}", path=rel))
    if any(b < a for a, b in pairwise(seqs)):
        problems.append(
            Finding(Code.LOG_OUT_OF_ORDER, "events are out of sequence: lines moved", path=rel)
        )
    if seqs:
        missing = sorted(set(range(max(seqs) + 1)) - set(seqs))
        if missing:
            problems.append(
                Finding(
                    Code.LOG_EVENT_MISSING,
                    f"{len(missing)} event(s) are missing from the log, first {missing[0]}",
                    path=rel,
                )
            )


def _read_checkpoint(
    archive: Archive, path: Path, custodian: bytes | None, problems: list[Finding]
) -> Checkpoint | None:
    rel = path.relative_to(archive.root).as_posix()
    if custodian is None:
        return None
    try:
        cp = open_checkpoint(path.read_bytes(), archive.settings.origin, custodian)
    except OSError as e:
        problems.append(Finding(Code.CHECKPOINT_MISSING, f"cannot be read ({e})", path=rel))
        return None
    except SignatureError as e:
        problems.append(Finding(Code.CHECKPOINT_SIGNATURE_INVALID, e.message, path=rel))
        return None
    except FormatError as e:
        problems.append(Finding(Code.CHECKPOINT_INVALID, e.message, path=rel))
        return None
    if cp.origin != archive.settings.origin:
        problems.append(
            Finding(Code.CHECKPOINT_INVALID, f"checkpoint of another log ({cp.origin})", path=rel)
        )
        return None
    return cp


def _check_checkpoints(archive: Archive, lines: list[bytes], report: VerifyReport) -> None:
    """Every stored checkpoint must be signed by the custodian, and the log as it is now must
    hash, at each checkpoint's size, to that checkpoint's root: the current log extends every
    checkpoint ever issued (what a consistency proof shows, checked directly since the whole
    log is here)."""
    problems = report.problems
    try:
        custodian: bytes | None = archive.custodian().public_key
    except (OSError, ConstanciaError):
        custodian = None
        problems.append(
            Finding(Code.SETTINGS_INVALID, "the custodian's key cannot be read", path="keys/")
        )
    # Prefix roots of the log as it is now, at every size a checkpoint names.
    stored: list[tuple[Path, Checkpoint]] = []
    if archive.checkpoints_dir.is_dir():
        for p in sorted(archive.checkpoints_dir.iterdir(), key=lambda p: (len(p.name), p.name)):
            if p.name.startswith(TEMP_PREFIX):
                problems.append(
                    Finding(
                        Code.INTERRUPTED_WRITE,
                        "a temporary file left by an interrupted command; the next writing "
                        "command removes it",
                        path=f"custody/checkpoints/{p.name}",
                    )
                )
                continue
            cp = _read_checkpoint(archive, p, custodian, problems)
            if cp is None:
                continue
            if p.name != str(cp.size):
                problems.append(
                    Finding(
                        Code.CHECKPOINT_INVALID,
                        f"names size {cp.size} but is stored as {p.name}",
                        path=f"custody/checkpoints/{p.name}",
                    )
                )
            stored.append((p, cp))
    latest_path = archive.checkpoint_path
    latest = None
    if not latest_path.exists():
        problems.append(
            Finding(Code.CHECKPOINT_MISSING, "no signed checkpoint", path="custody/checkpoint")
        )
    else:
        latest = _read_checkpoint(archive, latest_path, custodian, problems)
    roots = _prefix_roots(
        lines,
        {cp.size for _, cp in stored} | {latest.size} if latest else {cp.size for _, cp in stored},
    )
    n = len(lines)
    if latest is not None:
        report.checkpoint_size = latest.size
        if latest.size > n:
            problems.append(
                Finding(
                    Code.LOG_TRUNCATED,
                    f"the checkpoint covers {latest.size} events but the log holds {n}",
                    path="custody/log.jsonl",
                )
            )
        elif roots[latest.size] != latest.root:
            problems.append(
                Finding(
                    Code.LOG_ROOT_MISMATCH,
                    f"the log's first {latest.size} events do not hash to the signed root",
                    path="custody/log.jsonl",
                )
            )
        if latest.size < n:
            problems.append(
                Finding(
                    Code.LOG_UNCHECKPOINTED,
                    f"{n - latest.size} event(s) after the latest checkpoint (an interrupted "
                    "command); the next writing command signs them",
                    path="custody/log.jsonl",
                )
            )
    ordered = sorted(stored, key=lambda t: t[1].size)
    for p, cp in ordered:
        if cp.size > n:
            if latest is None or latest.size <= n:  # else already reported for the latest
                problems.append(
                    Finding(
                        Code.LOG_TRUNCATED,
                        f"checkpoint {cp.size} was issued but the log holds only {n} events",
                        path="custody/log.jsonl",
                    )
                )
            continue
        if roots.get(cp.size) != cp.root:
            problems.append(
                Finding(
                    Code.CHECKPOINT_INCONSISTENT,
                    f"the log no longer extends checkpoint {cp.size}: history was rewritten",
                    path=f"custody/checkpoints/{p.name}",
                )
            )
        elif latest is not None and cp.size > latest.size:
            problems.append(
                Finding(
                    Code.LOG_UNCHECKPOINTED,
                    f"custody/checkpoint is behind checkpoints/{p.name} (an interrupted "
                    "command); the next writing command brings it up to date",
                    path="custody/checkpoint",
                )
            )


def _prefix_roots(lines: list[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The Merkle root of the first k lines for every k in ``sizes`` (k <= len(lines))."""
    tree = merkle.TreeBuilder()
    out = {}
    if 0 in sizes:
        out[0] = tree.root()
    for line in lines:
        tree.append(line)
        if tree.size in sizes:
            out[tree.size] = tree.root()
    return out
