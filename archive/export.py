"""Export: an evidence package (a BagIt 1.0 bag) that a recipient checks without trusting us.

The layout is docs/evidence-package.md. Every byte that goes out is re-hashed on the way and
compared with the archive's inventory, so a damaged archive never yields a package that looks
sound. Files are streamed (never read whole); the package is written under a temporary name
beside its destination and renamed into place once complete.

Order of work, chosen so the package can carry its own export event: copy the payload; append
the ``exported`` event and sign a checkpoint over the log that now holds it; then write the
custody files (events with inclusion proofs against that checkpoint), the keys and the tag
files, and sign the tag manifest.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import json
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive import merkle, ocfl, package_text, sshsig
from archive.custody_log import parse_event, read_lines
from archive.hashing import Digests, copy_and_hash, fd_writer, sha256_hex, sha512_hex
from archive.identity import Identity, Signer
from archive.import_source import unsafe_path
from archive.store import Archive
from artefacts.record import RECORD_NAMESPACE, parse_record
from constancia.errors import (
    ArchiveDamaged,
    FormatError,
    SignatureError,
    StorageError,
    UsageError,
)

#: The SSHSIG namespace of the exporter's signature over tagmanifest-sha512.txt.
PACKAGE_NAMESPACE = "constancia-package"
PACKAGE_FORMAT = "constancia-package/1"
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
CHECKER = Path(__file__).with_name("bagcheck.py")


@dataclass
class ExportReport:
    path: Path
    identifier: str
    artefacts: list[str]
    files: int = 0
    bytes: int = 0
    events: int = 0
    checkpoint_size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "identifier": self.identifier,
            "artefacts": self.artefacts,
            "files": self.files,
            "bytes": self.bytes,
            "events": self.events,
            "checkpoint": self.checkpoint_size,
        }


@dataclass
class _Payload:
    """What has been written under data/: digests by bag-relative path."""

    sha256: dict[str, str] = field(default_factory=dict)
    sha512: dict[str, str] = field(default_factory=dict)
    octets: int = 0

    def add(self, rel: str, d: Digests) -> None:
        self.sha256[rel] = d.sha256
        self.sha512[rel] = d.sha512
        self.octets += d.size

    def add_bytes(self, root: Path, rel: str, data: bytes) -> None:
        _write_new(root / rel, data)
        self.add(rel, Digests.of(data))


def export_package(
    archive: Archive,
    signer: Signer,
    ids: list[str],
    to: Path,
    *,
    recipient: str | None = None,
    query: str | None = None,
    progress: Callable[[int], None] | None = None,
    artefact_done: Callable[[], None] | None = None,
    wait: float = 60.0,
    on_wait: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write the evidence package for artefacts ``ids`` (full IDs) to the new folder ``to``.

    ``signer`` must be the custodian: the export is appended to the custody log as an
    ``exported`` event and covered by a new checkpoint. ``progress`` gets byte counts;
    ``artefact_done`` is called as each artefact has been copied.
    """
    ids = sorted(set(ids))
    if not ids:
        raise UsageError("nothing to export", hint="name artefact IDs, or give --query")
    to = to.absolute()
    _check_destination(archive, to)
    identifier = f"urn:uuid:{uuid.uuid4()}"
    work = to.with_name(f".{to.name}.partial-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    report = ExportReport(to, identifier, ids)
    try:
        with _disk_full_is_plain(to), archive.lock(wait=wait, on_wait=on_wait):
            archive.recover()
            writer = archive.log_writer()
            payload = _Payload()
            record_keys: set[bytes] = set()

            def copied(signer_key: bytes) -> None:
                record_keys.add(signer_key)
                if artefact_done is not None:
                    artefact_done()

            with _Copier(work, payload, progress) as copier:
                for art in ids:
                    _copy_artefact(archive, art, copier, copied)
            writer.add(
                signer,
                "exported",
                ids[0] if len(ids) == 1 else None,
                {
                    "artefacts": ids,
                    "package": identifier,
                    "recipient": recipient,
                    "query": query,
                    "to": str(to),
                    "files": len(payload.sha256),
                    "bytes": payload.octets,
                    "manifest_sha512": sha512_hex(package_text.manifest(payload.sha512)),
                },
            )
            checkpoint = writer.checkpoint(signer)
            note = archive.checkpoint_path.read_bytes()
        keys = archive.keys()
        signers = _write_custody(archive, set(ids), work, payload, note, keys)
        signers |= record_keys | {signer.identity.public_key, archive.custodian().public_key}
        _write_keys(keys, signers, work, payload)
        report.events = _count_lines(work / "data/custody/events.jsonl")
        report.files = len(payload.sha256)
        report.bytes = payload.octets
        report.checkpoint_size = checkpoint.size
        _write_tag_files(archive, signer, work, payload, report, recipient, query)
        os.rename(work, to)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


@contextlib.contextmanager
def _disk_full_is_plain(to: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StorageError(
            "the disk is full: the package could not be written; nothing was exported",
            path=to,
            hint="free some space there, or give --to a folder on a larger disk",
        ) from e


def _check_destination(archive: Archive, to: Path) -> None:
    if to.exists() or to.is_symlink():
        raise UsageError(
            "already exists",
            path=to,
            hint="give --to a new folder name; an evidence package is never written over",
        )
    if to == archive.root or archive.root in to.parents:
        raise UsageError(
            "is inside the archive",
            path=to,
            hint="write the package outside the archive folder",
        )
    if not to.parent.is_dir():
        raise UsageError("the folder to write the package in does not exist", path=to.parent)


def _copy_artefact(
    archive: Archive, art: str, copier: _Copier, copied: Callable[[bytes], None]
) -> None:
    """Copy the artefact's current state (original, record, signature, derived files),
    checking each file against the inventory and the signed record. ``copied`` gets the
    record signer's raw key once every file is in (for a large file, maybe later)."""
    folder = archive.object_dir(art)
    try:
        inv = ocfl.read_inventory(folder)
        state = ocfl.head_state(inv)
    except (FormatError, OSError, KeyError, TypeError, ValueError) as e:
        raise ArchiveDamaged(
            f"artefact {art[:16]} cannot be read ({e}); nothing was exported",
            hint=f"run `constancia verify {art[:16]}`",
        ) from None
    for logical, content in state.items():
        why = unsafe_path(logical) or unsafe_path(content)
        if why is not None:
            raise ArchiveDamaged(
                f"the inventory of artefact {art[:16]} names {why}; nothing was exported",
                hint=f"run `constancia verify {art[:16]}`",
            )
    check = _ArtefactCheck(art, inv, state, copied, copier.work / f"data/artefacts/{art}")
    source = f"{folder}{os.sep}"
    for logical in sorted(state):
        copier.copy(
            source + state[logical],
            f"data/artefacts/{art}/{logical}",
            functools.partial(check.file_done, logical),
            functools.partial(check.failed, state[logical]),
        )


class _ArtefactCheck:
    """Checks one artefact's files as they arrive, and its signed record once all have."""

    def __init__(
        self,
        art: str,
        inv: dict[str, Any],
        state: dict[str, str],
        copied: Callable[[bytes], None],
        here: Path,
    ) -> None:
        self.art = art
        self.state = state
        self.here = here
        self.sha256_of = {
            p: d for d, paths in inv.get("fixity", {}).get("sha256", {}).items() for p in paths
        }
        self.sha512_of = {p: d for d, paths in inv["manifest"].items() for p in paths}
        self.copied = copied
        self.got: dict[str, Digests] = {}
        self.kept: dict[str, bytes] = {}

    def damaged(self, what: str) -> ArchiveDamaged:
        return ArchiveDamaged(
            f"{what}; nothing was exported", hint=f"run `constancia verify {self.art[:16]}`"
        )

    def failed(self, content: str, e: OSError) -> ArchiveDamaged:
        return self.damaged(
            f"{content} of artefact {self.art[:16]} cannot be copied ({e.strerror or e})"
        )

    def file_done(self, logical: str, digests: Digests, data: bytes | None) -> None:
        content = self.state[logical]
        want = (self.sha512_of.get(content), self.sha256_of.get(content))
        if (digests.sha512, digests.sha256) != want:
            raise self.damaged(
                f"{content} of artefact {self.art[:16]} no longer matches its inventory"
            )
        self.got[logical] = digests
        if data is not None:
            self.kept[logical] = data
        if len(self.got) == len(self.state):
            self.copied(self.record_signer())

    def record_signer(self) -> bytes:
        """The raw key that signed the record, once the record is found to vouch for every
        file copied (an inventory rewritten along with its digests passes the inventory
        check, not this one)."""
        art = self.art
        try:
            # The very bytes copied and hashed; read back only if they were too large to keep.
            data, sig = self.kept.get("record.json"), self.kept.get("record.json.sig")
            data = data if data is not None else (self.here / "record.json").read_bytes()
            sig = sig if sig is not None else (self.here / "record.json.sig").read_bytes()
            signer = sshsig.verify(data, sig, RECORD_NAMESPACE)
            record = parse_record(data)
        except (OSError, SignatureError, FormatError) as e:
            raise self.damaged(
                f"the record of artefact {art[:16]} is not validly signed ({e})"
            ) from None
        original = record["original"]
        copied = self.got.get(original["path"])
        if (
            record["id"] != art
            or original["sha256"] != art
            or copied is None
            or (copied.sha256, copied.sha512) != (original["sha256"], original["sha512"])
        ):
            raise self.damaged(
                f"the original of artefact {art[:16]} differs from its signed record"
            )
        named = {"record.json", "record.json.sig", original["path"]}
        for name, info in (record.get("derived") or {}).items():
            if isinstance(info, dict) and "path" in info:
                named.add(str(info["path"]))
                copied = self.got.get(str(info["path"]))
                if copied is None or copied.sha256 != info.get("sha256"):
                    raise self.damaged(
                        f"the derived {name} of artefact {art[:16]} differs from its signed record"
                    )
        unnamed = sorted(set(self.state) - named)
        if unnamed:
            # The recipient's check would report it (UNEXPECTED_FILE): never send it.
            raise self.damaged(
                f"the inventory of artefact {art[:16]} holds {unnamed[0]}, which its signed "
                "record does not name"
            )
        return signer


#: A file up to this size is read with one call and hashed in memory.
_WHOLE = 1 << 20
#: Errors copying a file that say nothing about the archive.
_NOT_DAMAGE = (errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM)
#: Large files handed to the background thread and not finished yet, at most.
_STREAMS_AHEAD = 2
_Done = Callable[[Digests, "bytes | None"], None]
_Failed = Callable[[OSError], ArchiveDamaged]


class _Copier:
    """Copies files into the package folder ``work``, recording each in ``payload``.

    Small files are copied here, one read and one write each. A large file streams on a
    background thread (its two digests on two more) while this thread goes on with the
    files after it: alone, this thread spent a third of a 1 GiB export waiting for the
    hashes. Every ``done`` callback runs on this thread, in :meth:`copy` or at the end.

    No fsync: the package is a copy the recipient verifies (the archive keeps the
    original). Large files still go to the disk directly (fd_writer): buffered, the kernel's
    copy into the page cache cost as much CPU as one of the two hashes."""

    def __init__(
        self, work: Path, payload: _Payload, progress: Callable[[int], None] | None
    ) -> None:
        self.work = work
        self.payload = payload
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._stop = threading.Event()
        self._made: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._streams: list[tuple[Future[Digests], str, _Done, _Failed]] = []

    def __enter__(self) -> _Copier:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            self._stop.set()  # an error here: the stream stops at its next chunk
        try:
            if kind is None:
                self._finish_streams(keep=0)
        finally:
            self._stop.set()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def copy(self, src: str, rel: str, done: _Done, failed: _Failed) -> None:
        """Copy ``src`` to ``rel`` in the package; ``done(digests, bytes if small)``."""
        try:
            self._make_parents(rel)
            fd = _open_regular(src)
        except OSError as e:
            raise self._plain(e, failed) from None
        handed = False
        try:
            out = os.open(f"{self.work}{os.sep}{rel}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                first = os.read(fd, _WHOLE)
                if len(first) < _WHOLE and not os.read(fd, 1):
                    view = memoryview(first)
                    while view:
                        view = view[os.write(out, view) :]
                else:
                    os.lseek(fd, 0, os.SEEK_SET)
                    self._finish_streams(keep=_STREAMS_AHEAD - 1)
                    future = self._executor().submit(self._stream, fd, out)
                    handed = True
                    self._streams.append((future, rel, done, failed))
                    return
            finally:
                if not handed:
                    os.close(out)
        except OSError as e:
            raise self._plain(e, failed) from None
        finally:
            if not handed:
                os.close(fd)
        self.advance(len(first))
        digests = Digests.of(first)
        self.payload.add(rel, digests)
        done(digests, first)

    def _finish_streams(self, keep: int) -> None:
        """Wait for the oldest streams until ``keep`` are left (each holds two open files)."""
        while len(self._streams) > keep:
            future, rel, done, failed = self._streams.pop(0)
            digests = self._result(future, failed)
            self.payload.add(rel, digests)
            done(digests, None)

    def advance(self, n: int) -> None:
        if self._stop.is_set():
            raise _Stopped
        if self._progress is not None:
            with self._progress_lock:
                self._progress(n)

    def _stream(self, fd: int, out: int) -> Digests:
        try:
            with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
                return copy_and_hash(f, fd_writer(out), progress=self.advance)
        finally:
            os.close(out)
            os.close(fd)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="constancia-export")
        return self._pool

    @staticmethod
    def _result(future: Future[Digests], failed: _Failed) -> Digests:
        try:
            return future.result()
        except OSError as e:
            raise _Copier._plain(e, failed) from None

    @staticmethod
    def _plain(e: OSError, failed: _Failed) -> Exception:
        """A full disk or a limit of this machine stays an OSError (said plainly higher up);
        any other error is the archive's damage."""
        return e if e.errno in _NOT_DAMAGE else failed(e)

    def _make_parents(self, rel: str) -> None:
        """Create the folders of ``rel`` not made yet (one mkdir each)."""
        parent = rel.rpartition("/")[0]
        if parent in self._made:
            return
        parts = parent.split("/")
        for i in range(1, len(parts) + 1):
            level = "/".join(parts[:i])
            if level not in self._made:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(f"{self.work}{os.sep}{level}")
                self._made.add(level)


def _open_regular(path: str) -> int:
    """Open a file of the archive for reading: never through a symbolic link planted in
    its place (it could bring any file the keeper can read into the package)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", path)
    return fd


class _Stopped(Exception):
    """The export failed elsewhere: a background stream stops."""


def _concerns(event: dict[str, Any], ids: set[str]) -> bool:
    if event["artefact"] in ids:
        return True
    listed = event["details"].get("artefacts")
    return isinstance(listed, list) and any(a in ids for a in listed if isinstance(a, str))


def _write_custody(
    archive: Archive,
    ids: set[str],
    work: Path,
    payload: _Payload,
    note: bytes,
    keys: dict[str, Identity],
) -> set[bytes]:
    """events.jsonl, proofs.jsonl and checkpoint; returns the raw keys of the events' actors.

    The log is read after the checkpoint was signed, and only as far as it covers."""
    size = int(note.split(b"\n")[1])
    lines = read_lines(archive.log_path).lines[:size]
    hashes = [merkle.leaf_hash(line) for line in lines]
    builder = merkle.ProofBuilder(hashes)
    picked: list[tuple[int, bytes]] = []
    actors: set[str] = set()
    for i, line in enumerate(lines):
        try:
            event = parse_event(line)
        except FormatError:
            continue  # a damaged line concerns no one we can name; verify reports it
        if _concerns(event, ids):
            picked.append((i, line))
            actors.add(event["actor"]["key"])
    # The events that registered these signers' keys say who they are: include them too.
    for i, line in enumerate(lines):
        if b'"action":"key-registered"' in line and any(a.encode() in line for a in actors):
            event = parse_event(line)
            if event["details"].get("fingerprint") in actors and (i, line) not in picked:
                picked.append((i, line))
    picked.sort()
    events = b"".join(line + b"\n" for _, line in picked)
    proofs = b"".join(
        json.dumps(
            {
                "hashes": [base64.b64encode(h).decode() for h in builder.inclusion_proof(i)],
                "index": i,
                "size": size,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for i, _ in picked
    )
    (work / "data/custody").mkdir(parents=True)
    payload.add_bytes(work, "data/custody/events.jsonl", events)
    payload.add_bytes(work, "data/custody/proofs.jsonl", proofs)
    payload.add_bytes(work, "data/custody/checkpoint", note)
    missing = actors - set(keys)
    if missing:
        raise ArchiveDamaged(
            f"custody events are signed by keys not registered in keys/ ({sorted(missing)[0]})",
            hint="run `constancia verify`",
        )
    return {keys[a].public_key for a in actors}


def _write_keys(
    keys: dict[str, Identity], signers: set[bytes], work: Path, payload: _Payload
) -> None:
    by_raw = {k.public_key: k for k in keys.values()}
    unknown = [s for s in signers if s not in by_raw]
    if unknown:
        raise ArchiveDamaged(
            "a record or the checkpoint is signed by a key not registered in keys/",
            hint="run `constancia verify`",
        )
    (work / "data/keys").mkdir(parents=True)
    chosen = sorted((by_raw[s] for s in signers), key=lambda k: k.key_file_stem)
    for ident in chosen:
        stem = ident.key_file_stem
        payload.add_bytes(work, f"data/keys/{stem}.pub", (ident.public_line + "\n").encode())
        payload.add_bytes(work, f"data/keys/{stem}.pem", ident.public_pem)
    allowed = "".join(k.allowed_signers_line + "\n" for k in chosen).encode()
    payload.add_bytes(work, "data/keys/allowed_signers", allowed)


def _write_tag_files(
    archive: Archive,
    signer: Signer,
    work: Path,
    payload: _Payload,
    report: ExportReport,
    recipient: str | None,
    query: str | None,
) -> None:
    custodian = archive.custodian()
    me = signer.identity
    n = len(report.artefacts)
    description = f"Evidence package from the archive {archive.settings.name}: {n} artefact(s)"
    if recipient:
        description += f", for {recipient}"
    if query:
        description += f", selected by the search {query!r}"
    fields = [
        ("Source-Organization", archive.settings.name),
        ("Bagging-Date", datetime.now(UTC).strftime("%Y-%m-%d")),
        ("Payload-Oxum", f"{payload.octets}.{len(payload.sha256)}"),
        ("Bag-Size", package_text.bag_size(payload.octets)),
        ("External-Description", description),
        ("External-Identifier", report.identifier),
        ("Internal-Sender-Identifier", archive.settings.origin),
        ("Constancia-Package", PACKAGE_FORMAT),
        ("Constancia-Custodian", custodian.fingerprint),
        ("Constancia-Exporter", f"{me.name} {me.fingerprint}"),
        ("Constancia-Artefacts", str(n)),
    ]
    if recipient:
        fields.append(("Constancia-Recipient", recipient))
    tags: dict[str, bytes] = {
        "bagit.txt": BAGIT_TXT,
        "bag-info.txt": package_text.bag_info(fields),
        "manifest-sha256.txt": package_text.manifest(payload.sha256),
        "manifest-sha512.txt": package_text.manifest(payload.sha512),
        "VERIFY.txt": package_text.verify_text(
            archive_name=archive.settings.name,
            artefacts=n,
            events=report.events,
            custodian_pem=f"data/keys/{custodian.key_file_stem}.pem",
            custodian_fingerprint=custodian.fingerprint,
            exporter_principal=me.key_file_stem,
            exporter_fingerprint=me.fingerprint,
        ).encode("utf-8"),
        "verify.py": CHECKER.read_bytes(),
    }
    for name, data in tags.items():
        _write_new(work / name, data)
    tag256 = package_text.manifest({k: sha256_hex(v) for k, v in tags.items()})
    tag512 = package_text.manifest({k: sha512_hex(v) for k, v in tags.items()})
    _write_new(work / "tagmanifest-sha256.txt", tag256)
    _write_new(work / "tagmanifest-sha512.txt", tag512)
    sig = signer.sign_sshsig(tag512, PACKAGE_NAMESPACE).encode("ascii")
    _write_new(work / "tagmanifest-sha512.txt.sig", sig)


def _write_new(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def exportable(archive: Archive, ids: Iterable[str]) -> list[str]:
    """The IDs among ``ids`` that the archive holds (a search index may lag behind)."""
    return [a for a in ids if archive.has_artefact(a)]
