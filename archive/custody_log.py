"""The custody log: one signed event per line, RFC 8785 canonical JSON, append-only.

Each line is a leaf of an RFC 9162 Merkle tree (the leaf data is the line's bytes without its
newline). Every event carries its sequence number (= its leaf index), the actor's key
fingerprint, and the actor's SSHSIG signature over the canonical JSON of the event without its
``sig`` field. A command that appends events ends by signing a checkpoint over the whole tree
(:meth:`LogWriter.checkpoint`).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from archive import faults, merkle, sshsig
from archive.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from archive.fsutil import fsync_dir, temp_name, write_atomic, write_file
from archive.identity import Signer
from constancia.errors import ArchiveDamaged, FormatError, SignatureError, StorageError

#: The SSHSIG namespace of event signatures.
EVENT_NAMESPACE = "constancia-event"
EVENT_FIELDS = ("action", "actor", "artefact", "details", "seq", "sig", "time")
#: Events that bring an artefact into the archive and name its first record: an ``ingest`` of
#: a file, or an ``import`` from another archive or an evidence package. Verification links
#: each object to the first of these, and crash recovery installs a staged object that has one.
ARRIVAL_ACTIONS = ("ingest", "import")


def utc_now() -> str:
    """The current time as ISO 8601 UTC with a 'Z', to the microsecond."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_SAFE_INT = 2**53


def _plain(value: Any) -> bool:
    """True if the standard library writes ``value`` exactly as RFC 8785 does: no floats
    (RFC 8785 formats numbers as ECMAScript does), no integers beyond 2^53, and no object
    key outside the Basic Multilingual Plane (RFC 8785 sorts keys by UTF-16 code units).
    A walk without recursion: an event's details are checked on every append."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        if v is None or isinstance(v, str | bool):
            continue
        if isinstance(v, int):
            if not -_SAFE_INT < v < _SAFE_INT:
                return False
        elif isinstance(v, list):
            extend(v)
        elif isinstance(v, dict):
            for k in v:
                if not isinstance(k, str) or (not k.isascii() and max(k) > "\uffff"):
                    return False
            extend(v.values())
        else:
            return False
    return True


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON. Custody events hold only strings, integers, booleans, lists
    and objects, which the standard library's sorted compact form writes identically (and
    ten times faster); anything else goes through the rfc8785 implementation."""
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )
    return bytes(rfc8785.dumps(value))


def signing_payload(event: Mapping[str, Any]) -> bytes:
    """The bytes an event's signature covers: the canonical event without ``sig``."""
    return canonical({k: v for k, v in event.items() if k != "sig"})


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


def signed_line(payload: bytes, event: Mapping[str, Any]) -> bytes:
    """``canonical(event)`` made from ``payload``, its signing payload, without encoding the
    event again. With exactly the event fields, "time" is the last key and "sig" sorts just
    before it, so the line is the payload with ``,"sig":"..."`` put in before ``,"time":``
    (a base64 signature needs no escaping). Anything else is encoded whole."""
    time, sig = event.get("time"), event.get("sig")
    if (
        isinstance(time, str)
        and isinstance(sig, str)
        and _BASE64.match(sig)
        and set(event) == set(EVENT_FIELDS)
    ):
        tail = b',"time":' + json.dumps(time, ensure_ascii=False).encode("utf-8") + b"}"
        if payload.endswith(tail):
            return b"".join((payload[: -len(tail)], b',"sig":"', sig.encode("ascii"), b'"', tail))
    return canonical(event)


@dataclass(frozen=True)
class LogLines:
    """The log as stored: complete lines (without newline) and any torn tail."""

    lines: list[bytes]
    torn: bytes  # bytes after the last newline: an interrupted append


def read_lines(path: Path) -> LogLines:
    """Read the log file; a missing file reads as empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LogLines([], b"")
    end = data.rfind(b"\n") + 1
    body, torn = data[:end], data[end:]
    lines = body.split(b"\n")[:-1] if body else []
    return LogLines(lines, torn)


class _NotPlain(Exception):
    """A number the standard library may write otherwise than RFC 8785."""


_FOUR_BYTE_LEAD = re.compile(rb"[\xf0-\xff]")


def _no_float(text: str) -> Any:
    raise _NotPlain


def _small_int(text: str) -> int:
    if len(text) > 15:  # may reach 2^53: let the full check decide
        raise _NotPlain
    return int(text)


def parse_event(line: bytes) -> dict[str, Any]:
    """Parse one line: canonical JSON of an object with exactly the event fields."""
    # Fast path (verify parses every line of a long log): a line with no float, no integer
    # near 2^53 and no character outside the BMP (no UTF-8 byte >= 0xF0) is plain, so the
    # standard library's sorted compact form is its RFC 8785 form (see `canonical`).
    plain = _FOUR_BYTE_LEAD.search(line) is None
    try:
        text = line.decode("utf-8")
        if plain:
            try:
                event = json.loads(
                    text, parse_float=_no_float, parse_int=_small_int, parse_constant=_no_float
                )
            except _NotPlain:
                plain = False
        if not plain:
            event = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise FormatError(f"not JSON ({e.__class__.__name__})") from None
    if not isinstance(event, dict) or tuple(sorted(event)) != EVENT_FIELDS:
        raise FormatError("not a custody event (fields differ)")
    try:
        written = (
            json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            if plain
            else canonical(event)
        )
    except ValueError:  # NaN or Infinity: RFC 8785 has no form for them
        raise FormatError("not in RFC 8785 canonical form") from None
    if written != line:
        raise FormatError("not in RFC 8785 canonical form")
    actor = event["actor"]
    if (
        not isinstance(event["seq"], int)
        or isinstance(event["seq"], bool)
        or not isinstance(event["action"], str)
        or not isinstance(actor, dict)
        or not isinstance(actor.get("key"), str)
        or not isinstance(event["sig"], str)
        or not isinstance(event["details"], dict)
    ):
        raise FormatError("a field of the event has the wrong type")
    return event


def event_signer_key(event: Mapping[str, Any]) -> bytes:
    """Check an event's signature; return the raw public key that made it (SignatureError)."""
    try:
        blob = base64.b64decode(event["sig"], validate=True)
    except ValueError:
        blob = b""
    return sshsig.verify(signing_payload(event), blob, EVENT_NAMESPACE)


class LogWriter:
    """Appends signed events and signs checkpoints. Use only while holding the archive lock."""

    def __init__(
        self, log_path: Path, checkpoints_dir: Path, origin: str, custodian: bytes | None = None
    ) -> None:
        """``custodian``: the raw public key checkpoints are signed with; given, the log must
        still hash to the latest checkpoint's root before anything is appended to it."""
        self.path = log_path
        self.checkpoints_dir = checkpoints_dir
        self.origin = origin
        stored = read_lines(log_path)
        if stored.torn:
            raise StorageError(
                "the custody log ends in an interrupted write",
                path=log_path,
                hint="run any writing command (it repairs this) or `constancia verify`",
            )
        latest = self._latest_checkpoint(custodian)
        self.tree = merkle.TreeBuilder()
        last_seq = -1
        root_at_latest = self.tree.root() if latest is not None and latest.size == 0 else None
        for line in stored.lines:
            self.tree.append(line)
            if latest is not None and self.tree.size == latest.size:
                root_at_latest = self.tree.root()
        if latest is not None and root_at_latest != latest.root:
            # Appending now would bury the damage under a fresh checkpoint.
            raise ArchiveDamaged(
                "the custody log no longer matches its latest signed checkpoint "
                f"({latest.size} events); nothing was written",
                path=log_path,
                hint="run `constancia verify` to see what changed, and restore "
                "custody/log.jsonl from a backup copy of the archive",
            )
        if stored.lines:
            last_seq = parse_event(stored.lines[-1])["seq"]
        self.next_seq = last_seq + 1
        self._pending: list[bytes] = []
        self._signed_size = latest.size if latest is not None else None

    def _latest_checkpoint(self, custodian: bytes | None) -> Checkpoint | None:
        path = self.checkpoints_dir.parent / "checkpoint"
        if custodian is None or not path.exists():
            return None
        try:
            return open_checkpoint(path.read_bytes(), self.origin, custodian)
        except (SignatureError, FormatError) as e:
            raise ArchiveDamaged(
                f"the latest checkpoint does not verify ({e.message}); nothing was written",
                path=path,
                hint="run `constancia verify`, and restore custody/ from a backup copy",
            ) from None

    @property
    def size(self) -> int:
        """Events written plus events waiting to be flushed."""
        return self.tree.size

    def add(
        self,
        signer: Signer,
        action: str,
        artefact: str | None,
        details: Mapping[str, Any],
        *,
        time: str | None = None,
    ) -> dict[str, Any]:
        """Sign one event and queue it; :meth:`flush` writes it."""
        ident = signer.identity
        event: dict[str, Any] = {
            "action": action,
            "actor": {"key": ident.fingerprint, "name": ident.name},
            "artefact": artefact,
            "details": dict(details),
            "seq": self.next_seq,
            "time": time or utc_now(),
        }
        payload = signing_payload(event)
        blob = signer.sign_sshsig_blob(payload, EVENT_NAMESPACE)
        event["sig"] = base64.b64encode(blob).decode("ascii")
        line = signed_line(payload, event)
        self._pending.append(line)
        self.tree.append(line)
        self.next_seq += 1
        return event

    def flush(self) -> None:
        """Append every queued event with one write and fsync it."""
        if not self._pending:
            return
        data = b"".join(line + b"\n" for line in self._pending)
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as e:
            raise StorageError(f"could not append to the custody log ({e.strerror})") from e
        finally:
            os.close(fd)
        if new:
            fsync_dir(self.path.parent)
        self._pending.clear()

    def checkpoint(self, signer: Signer) -> Checkpoint:
        """Flush, then sign a checkpoint over the whole log and store it twice:
        ``checkpoints/N`` (kept forever) and ``checkpoint`` (the latest)."""
        self.flush()
        cp = Checkpoint(self.origin, self.tree.size, self.tree.root())
        note = sign_checkpoint(cp, self.origin, signer.private_key).encode("utf-8")
        self.checkpoints_dir.mkdir(exist_ok=True)
        _write_once(self.checkpoints_dir / str(cp.size), note)
        faults.point("between-checkpoint-files")
        write_atomic(self.checkpoints_dir.parent / "checkpoint", note)
        self._signed_size = cp.size
        return cp

    def checkpoint_if_needed(self, signer: Signer) -> Checkpoint | None:
        """Sign a checkpoint unless the latest one already covers the whole log."""
        self.flush()
        if self._signed_size == self.tree.size:
            return None
        return self.checkpoint(signer)


def _write_once(path: Path, data: bytes) -> None:
    """Store a checkpoint that must never be replaced: an existing one with other bytes means
    the log was rewritten, and the old checkpoint is the evidence of it."""
    tmp = temp_name(path)
    write_file(tmp, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        if path.read_bytes() != data:
            raise ArchiveDamaged(
                f"checkpoint {path.name} was already issued for a different log; "
                "it is kept, and nothing was signed",
                path=path,
                hint="run `constancia verify`: the custody log has been changed",
            ) from None
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
