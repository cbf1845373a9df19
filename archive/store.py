"""An archive is a folder: settings, the OCFL storage root, the custody log, keys.

:class:`Archive` knows the layout, finds the archive a command works on, takes the lock that
keeps two writers apart, and repairs what an interrupted command left behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archive import faults, ocfl
from archive.custody_log import ARRIVAL_ACTIONS, LogWriter, parse_event, read_lines, utc_now
from archive.fsutil import fsync_dir, remove_temporaries, syncfs, write_atomic
from archive.identity import Identity, Signer, identity_from_public_line
from constancia.errors import ArchiveBusy, ArchiveNotFound, FormatError, UsageError

log = logging.getLogger(__name__)

SETTINGS_NAME = "constancia.yaml"
FORMAT = "constancia-archive/1"
ID_RE = re.compile(r"[0-9a-f]{64}")
STAGE_PREFIX = "obj-"
#: tmp/rev-<id>: new versions of an artefact already kept, staged by an import.
REVISION_PREFIX = "rev-"


@dataclass(frozen=True)
class Settings:
    name: str
    origin: str
    created: str
    custodian_name: str
    custodian_fingerprint: str
    custodian_key: str  # archive-relative path of the custodian's key, keys/STEM.pub


def object_id_for(artefact_id: str) -> str:
    return f"urn:sha256:{artefact_id}"


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40] or "archive"


class Archive:
    """An open archive folder. Reading needs nothing; writing needs :meth:`lock`."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self.objects = root / "objects"
        self.custody = root / "custody"
        self.log_path = self.custody / "log.jsonl"
        self.checkpoint_path = self.custody / "checkpoint"
        self.checkpoints_dir = self.custody / "checkpoints"
        self.keys_dir = root / "keys"
        self.tmp = root / "tmp"
        self.index_dir = root / "index"
        self._folders: set[Path] = set()  # folders under objects/ known to exist

    # ---- finding and creating -------------------------------------------------------------

    @staticmethod
    def locate(explicit: Path | None) -> Path:
        """The archive folder: ``--archive``, else $CONSTANCIA_ARCHIVE, else the archive that
        contains the current directory."""
        if explicit is not None:
            return explicit.absolute()
        env = os.environ.get("CONSTANCIA_ARCHIVE")
        if env:
            return Path(env).absolute()
        here = Path.cwd()
        for folder in (here, *here.parents):
            if (folder / SETTINGS_NAME).is_file():
                return folder
        raise ArchiveNotFound(
            "no archive here: neither this folder nor any above it holds constancia.yaml",
            hint="pass --archive PATH, set CONSTANCIA_ARCHIVE, or create one with "
            "`constancia init PATH`",
        )

    @classmethod
    def open(cls, path: Path) -> Archive:
        settings_path = path / SETTINGS_NAME
        if not settings_path.is_file():
            raise ArchiveNotFound(
                "is not a Constancia archive (it has no constancia.yaml)",
                path=path,
                hint="check the path, or create an archive there with `constancia init`",
            )
        try:
            raw = yaml.safe_load(settings_path.read_text(encoding="utf-8"))
            cust = raw["custodian"]
            settings = Settings(
                name=str(raw["name"]),
                origin=str(raw["origin"]),
                created=str(raw["created"]),
                custodian_name=str(cust["name"]),
                custodian_fingerprint=str(cust["fingerprint"]),
                custodian_key=str(cust["key"]),
            )
            if raw.get("format") != FORMAT:
                raise ValueError(f"unknown format {raw.get('format')!r}")
        except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError) as e:
            raise FormatError(
                f"the archive settings cannot be read ({e})",
                path=settings_path,
                hint="restore constancia.yaml from a backup copy of the archive",
            ) from None
        return cls(path.absolute(), settings)

    @classmethod
    def create(cls, path: Path, name: str, signer: Signer) -> Archive:
        """Lay out a new archive; ``signer`` becomes its custodian. The first custody event
        registers the custodian's key."""
        path = path.absolute()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(
                "already exists and is not an empty folder",
                path=path,
                hint="choose a new folder for the archive",
            )
        ident = signer.identity
        origin = f"constancia.local/{_slug(name)}-{secrets.token_hex(4)}"
        key_rel = f"keys/{ident.key_file_stem}.pub"
        settings = Settings(
            name=name,
            origin=origin,
            created=utc_now(),
            custodian_name=ident.name,
            custodian_fingerprint=ident.fingerprint,
            custodian_key=key_rel,
        )
        path.mkdir(parents=True, exist_ok=True)
        archive = cls(path, settings)
        for d in (archive.objects, archive.custody, archive.checkpoints_dir, archive.keys_dir):
            d.mkdir()
        ocfl.init_storage_root(archive.objects)
        archive.register_key(ident)
        doc: dict[str, Any] = {
            "format": FORMAT,
            "name": name,
            "origin": origin,
            "created": settings.created,
            "custodian": {"name": ident.name, "fingerprint": ident.fingerprint, "key": key_rel},
        }
        text = (
            "# Constancia archive settings. Written by `constancia init`; do not edit by hand.\n"
            + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        )
        with archive.lock(wait=0):
            writer = archive.log_writer()
            writer.add(
                signer,
                "key-registered",
                None,
                {
                    "fingerprint": ident.fingerprint,
                    "key": ident.public_line,
                    "path": key_rel,
                    "role": "custodian",
                    "archive": name,
                    "origin": origin,
                },
            )
            writer.checkpoint(signer)
        # Settings last: a folder without constancia.yaml is not (yet) an archive.
        write_atomic(path / SETTINGS_NAME, text.encode("utf-8"))
        fsync_dir(path)
        return archive

    # ---- keys -----------------------------------------------------------------------------

    def register_key(self, ident: Identity) -> None:
        """Write keys/STEM.pub (OpenSSH), keys/STEM.pem and refresh keys/allowed_signers."""
        stem = ident.key_file_stem
        pub = self.keys_dir / f"{stem}.pub"
        if not pub.exists():
            write_atomic(pub, (ident.public_line + "\n").encode("utf-8"))
            write_atomic(self.keys_dir / f"{stem}.pem", ident.public_pem)
        lines = [k.allowed_signers_line for k in self.keys().values()]
        write_atomic(self.keys_dir / "allowed_signers", ("\n".join(sorted(lines)) + "\n").encode())

    def keys(self) -> dict[str, Identity]:
        """Registered keys by fingerprint. Unreadable key files are skipped (verify reports)."""
        found: dict[str, Identity] = {}
        if not self.keys_dir.is_dir():
            return found
        for pub in sorted(self.keys_dir.glob("*.pub")):
            try:
                ident = identity_from_public_line(pub.read_text(encoding="utf-8").strip())
            except (OSError, UnicodeDecodeError, FormatError):
                continue
            found[ident.fingerprint] = ident
        return found

    def custodian(self) -> Identity:
        return identity_from_public_line(
            (self.root / self.settings.custodian_key).read_text(encoding="utf-8").strip()
        )

    # ---- objects --------------------------------------------------------------------------

    def object_rel(self, artefact_id: str) -> str:
        return "objects/" + ocfl.object_path(object_id_for(artefact_id))

    def object_dir(self, artefact_id: str) -> Path:
        return self.root / self.object_rel(artefact_id)

    def has_artefact(self, artefact_id: str) -> bool:
        return (self.object_dir(artefact_id) / "0=ocfl_object_1.1").exists()

    def artefact_ids(self) -> list[str]:
        """Every artefact in the storage root, sorted."""
        return sorted(i for d in ocfl.list_object_dirs(self.objects) if (i := artefact_of(d)))

    def resolve_id(self, prefix: str) -> str:
        """The artefact whose ID starts with ``prefix`` (8+ hex characters)."""
        p = prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{8,64}", p):
            raise UsageError(
                f"{prefix!r} is not an artefact ID",
                hint="give at least 8 hexadecimal characters of the ID (see `constancia log`)",
            )
        if len(p) == 64:
            if self.has_artefact(p):
                return p
            matches: list[str] = []
        else:
            matches = [i for i in self.artefact_ids() if i.startswith(p)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"no artefact has an ID starting with {p}")
        listed = ", ".join(m[:16] for m in matches[:10])
        raise UsageError(
            f"{p} is ambiguous: {len(matches)} artefacts start with it ({listed})",
            hint="give more characters of the ID",
        )

    # ---- writing --------------------------------------------------------------------------

    def log_writer(self) -> LogWriter:
        try:
            custodian: bytes | None = self.custodian().public_key
        except (OSError, FormatError):
            custodian = None
        return LogWriter(self.log_path, self.checkpoints_dir, self.settings.origin, custodian)

    @contextlib.contextmanager
    def lock(
        self,
        wait: float = 60.0,
        *,
        shared: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold the archive's lock: exclusive for writers, shared for readers.

        A second writer waits up to ``wait`` seconds (telling ``on_wait`` why) and then gives
        up with :class:`ArchiveBusy`. Readers on read-only media without a lock file go on.
        """
        lock_path = self.root / "lock"
        try:
            fd = os.open(lock_path, os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if shared:
                yield
                return
            raise
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            deadline = time.monotonic() + wait
            told = False
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if not told and on_wait is not None:
                    holder = _lock_holder(lock_path)
                    on_wait(
                        f"another constancia command{holder} is writing to this archive; "
                        f"waiting up to {wait:.0f} s for it to finish…"
                    )
                    told = True
                if time.monotonic() >= deadline:
                    raise ArchiveBusy(
                        f"another constancia command{_lock_holder(lock_path)} is writing to "
                        "this archive",
                        path=self.root,
                        hint="wait for it to finish and try again (or pass --wait SECONDS)",
                    )
                time.sleep(0.1)
            if not shared:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    def recover(self) -> list[str]:
        """Finish or clean up what an interrupted command left. Call holding the lock.

        A staged object whose ingest event reached the log is moved into place (the ingest
        was reported nowhere but is complete and durable); any other staged file is removed
        (that ingest never happened). A torn last log line is cut off. Returns messages.
        """
        notes: list[str] = []
        stored = read_lines(self.log_path)
        if stored.torn:
            with open(self.log_path, "r+b") as f:
                f.truncate(sum(len(line) + 1 for line in stored.lines))
                os.fsync(f.fileno())
            notes.append("cut off an interrupted write at the end of the custody log")
        removed = sum(
            remove_temporaries(d)
            for d in (
                self.root,
                self.custody,
                self.checkpoints_dir,
                self.keys_dir,
                self.custody / "timestamps",
            )
        )
        if removed:
            notes.append(f"removed {removed} temporary file(s) of an interrupted command")
        if not self.tmp.is_dir():
            return notes
        leftovers = sorted(self.tmp.iterdir())
        if not leftovers:
            return notes
        logged = _ingested_ids(stored.lines)
        for entry in leftovers:
            if entry.name.startswith(REVISION_PREFIX) and entry.is_dir():
                from archive.import_revision import finish_revision  # it builds on this module

                notes.append(finish_revision(self, entry, stored.lines))
                continue
            artefact = entry.name[len(STAGE_PREFIX) :]
            finished = entry.name.startswith(STAGE_PREFIX) and artefact in logged
            if finished and not self.has_artefact(artefact):
                self.install_staged(entry, artefact)
                notes.append(f"completed the interrupted ingest of {artefact[:16]}")
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            notes.append(f"removed the unfinished ingest {entry.name}")
        fsync_dir(self.tmp)
        return notes

    def commit_batch(self, writer: LogWriter, installs: Sequence[Callable[[], None]]) -> None:
        """The order that keeps a batch crash-safe: the staged bytes durable (one syncfs for
        the batch), then the events that name them, then each install into objects/. A kill
        between the steps leaves what :meth:`recover` finishes or removes."""
        if installs:
            syncfs(self.root)
        faults.point("before-log-append")
        writer.flush()
        faults.point("after-log-append")
        for install in installs:
            install()
            faults.point("after-install")

    def install_staged(self, staged: Path, artefact_id: str) -> None:
        """Rename a complete staged object folder into the storage root."""
        target = self.object_dir(artefact_id)
        self._make_parents(target.parent)
        try:
            os.rename(staged, target)
        except FileNotFoundError:
            if not staged.exists():
                raise
            self._folders.clear()  # a remembered folder was removed meanwhile
            self._make_parents(target.parent)
            os.rename(staged, target)

    def _make_parents(self, folder: Path) -> None:
        """``folder`` (under objects/) and the folders above it, from the top, remembering
        those that exist: most objects need one or two new n-tuple folders, and creating
        folders is much of an ingest's time."""
        if folder in self._folders:
            return
        chain = []
        at = folder
        while at != self.objects and at not in self._folders:
            chain.append(at)
            at = at.parent
        for d in reversed(chain):
            with contextlib.suppress(FileExistsError):
                os.mkdir(d)
            self._folders.add(d)

    def has_unfinished_work(self) -> bool:
        return self.tmp.is_dir() and any(self.tmp.iterdir())


def artefact_of(object_dir: Path) -> str | None:
    """The artefact an object folder holds, from its name (None: not one of ours)."""
    name = object_dir.name
    if name.startswith("urn%3asha256%3a") and ID_RE.fullmatch(name[15:]):
        return name[15:]
    return None


def _ingested_ids(lines: list[bytes]) -> set[str]:
    ids = set()
    needles = [f'"action":"{a}"'.encode() for a in ARRIVAL_ACTIONS]
    for line in lines:
        if not any(n in line for n in needles):
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        if event["action"] in ARRIVAL_ACTIONS and isinstance(event["artefact"], str):
            ids.add(event["artefact"])
    return ids


def _lock_holder(lock_path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(lock_path.read_text().strip())
        return f" (process {pid})"
    return ""
