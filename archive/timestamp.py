"""Trusted time without going online: RFC 3161 time-stamps of signed checkpoints.

A checkpoint proves what the custody log held; it does not prove *when*, since the custodian
signs it with the custodian's own clock. A Time-Stamp Authority (TSA) can: :func:`make_request`
writes a TimeStampReq for the SHA-256 of the current checkpoint file ``custody/checkpoints/N``,
which the user carries to a connected machine and sends to a TSA; :func:`attach` verifies the
TSA's answer (:mod:`archive.timestamp_verify`) and keeps it beside the checkpoint, then records
a ``timestamp-attached`` custody event. Nothing here opens a network connection.

On disk, in ``custody/timestamps/``:

- ``N.tsq``: the request for checkpoint N (its nonce is what the answer must repeat); asking
  again for the same checkpoint hands out the same request.
- ``N.tsr`` and ``N.ca.pem``: the TSA's response and the CA certificate it was checked
  against. Both are written once. A second token for the same checkpoint (another TSA, for
  redundancy) is kept as ``N-2.tsr`` and ``N-2.ca.pem``, a third as ``N-3.…``; the same token
  twice is refused.

An auditor checks a stored token with OpenSSL alone::

    openssl ts -verify -in custody/timestamps/N.tsr -data custody/checkpoints/N \\
      -CAfile custody/timestamps/N.ca.pem
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from archive import der
from archive.checkpoint import open_checkpoint
from archive.custody_log import parse_event, read_lines
from archive.fsutil import fsync_dir, temp_name, write_atomic, write_file
from archive.identity import Signer
from archive.store import Archive
from archive.timestamp_verify import (
    SHA256,
    Token,
    check_nonce,
    load_ca,
    parse_request,
    verify_response,
)
from constancia.errors import (
    ArchiveDamaged,
    ConstanciaError,
    FormatError,
    ProofError,
    StorageError,
    UsageError,
)

ACTION = "timestamp-attached"
#: A time-stamp response is a few kilobytes; anything far larger is not one.
MAX_RESPONSE = 1 << 20


def timestamps_dir(archive: Archive) -> Path:
    return archive.custody / "timestamps"


def build_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq v1 for a SHA-256 digest, with a nonce, asking for the TSA's
    certificate in the answer (certReq), so that the token can be checked offline."""
    imprint = der.sequence(der.sequence(der.oid(SHA256), der.null()), der.octet_string(digest))
    return der.sequence(der.integer(1), imprint, der.integer(nonce), der.boolean(True))


@dataclass(frozen=True)
class Request:
    checkpoint: int
    der: bytes
    kept: str  # archive-relative path of the request's copy
    digest: bytes  # SHA-256 of custody/checkpoints/N
    nonce: int
    reused: bool  # the request was made before, for the same checkpoint


def make_request(archive: Archive, *, wait: float = 60.0) -> Request:
    """The time-stamp request for the latest checkpoint, kept as custody/timestamps/N.tsq."""
    with archive.lock(wait=wait):
        n, data = _current_checkpoint(archive)
        digest = hashlib.sha256(data).digest()
        folder = timestamps_dir(archive)
        kept = folder / f"{n}.tsq"
        rel = f"custody/timestamps/{kept.name}"
        if kept.exists():
            stored = kept.read_bytes()
            try:
                imprint, nonce = parse_request(stored)
            except FormatError as e:
                raise ArchiveDamaged(
                    f"the kept request cannot be read ({e.message})",
                    path=rel,
                    hint="run `constancia verify`; restore custody/ from a backup copy",
                ) from None
            if imprint != digest or nonce is None:
                raise ArchiveDamaged(
                    f"the kept request is not for checkpoint {n}",
                    path=rel,
                    hint="run `constancia verify`; restore custody/ from a backup copy",
                )
            return Request(n, stored, rel, digest, nonce, reused=True)
        nonce = secrets.randbits(64)
        request = build_request(digest, nonce)
        _make_folder(folder)
        _store_new(kept, request)
    return Request(n, request, rel, digest, nonce, reused=False)


def _current_checkpoint(archive: Archive) -> tuple[int, bytes]:
    """The size and bytes of custody/checkpoints/N for the latest signed checkpoint."""
    try:
        latest = archive.checkpoint_path.read_bytes()
        cp = open_checkpoint(latest, archive.settings.origin, archive.custodian().public_key)
        data = (archive.checkpoints_dir / str(cp.size)).read_bytes()
    except (OSError, ConstanciaError) as e:
        raise ArchiveDamaged(
            f"the latest checkpoint cannot be read or does not verify ({e})",
            path=archive.checkpoint_path,
            hint="run `constancia verify` to see what is wrong",
        ) from None
    if data != latest:
        raise ArchiveDamaged(
            f"custody/checkpoint differs from custody/checkpoints/{cp.size}",
            path=archive.checkpoint_path,
            hint="run any writing command (it completes an interrupted one), then "
            "`constancia verify`",
        )
    return cp.size, data


@dataclass(frozen=True)
class Attached:
    checkpoint: int
    token: Token
    path: str  # archive-relative: custody/timestamps/N.tsr (or N-K.tsr)
    ca_path: str
    token_sha256: str
    event: dict[str, Any]
    new_checkpoint: int


def examine(archive: Archive, response: Path, ca: Path) -> tuple[Token, int]:
    """Verify a TSA's response file against the CA certificate file ``ca`` and find the
    checkpoint N it time-stamps.

    Raises UsageError for a CA file that holds no certificate, FormatError for a file that
    is not a time-stamp response, SignatureError for a token that does not verify (or is
    another CA's), ProofError for a refused request, a token for none of this archive's
    checkpoints, or one that answers another request than the one kept for N."""
    return _examine(archive, response, ca)[:2]


def _examine(
    archive: Archive, response: Path, ca: Path
) -> tuple[Token, int, bytes, x509.Certificate]:
    """What :func:`examine` finds, with the very bytes it checked."""
    ca_cert = load_ca(ca.read_bytes(), path=ca)
    data = _read_response(response)
    try:
        token = verify_response(data, ca_cert)
        n = _checkpoint_for(archive, token.imprint)
        check_nonce(timestamps_dir(archive) / f"{n}.tsq", token)
    except ConstanciaError as e:
        e.path = e.path or response
        e.hint = e.hint or _RESPONSE_HINT
        raise
    return token, n, data, ca_cert


def _read_response(path: Path) -> bytes:
    if path.stat().st_size > MAX_RESPONSE:
        raise FormatError(
            "is far too large to be a time-stamp response", path=path, hint=_RESPONSE_HINT
        )
    data = path.read_bytes()
    if not data:
        raise FormatError("is empty, not a time-stamp response", path=path, hint=_RESPONSE_HINT)
    return data


_RESPONSE_HINT = (
    "pass the .tsr file the time-stamp authority returned for the request "
    "`constancia timestamp request` wrote"
)


def _checkpoint_for(archive: Archive, imprint: bytes) -> int:
    sizes = []
    if archive.checkpoints_dir.is_dir():
        sizes = sorted(
            (
                int(p.name)
                for p in archive.checkpoints_dir.iterdir()
                if p.name.isascii() and p.name.isdigit()
            ),
            reverse=True,
        )
    for n in sizes:
        if hashlib.sha256((archive.checkpoints_dir / str(n)).read_bytes()).digest() == imprint:
            return n
    raise ProofError(
        "the token time-stamps none of this archive's checkpoints (sha256 "
        f"{imprint.hex()[:16]}…): it belongs to another archive or another file",
        hint="attach it to the archive whose request it answers",
    )


def attach(
    archive: Archive, signer: Signer, response: Path, ca: Path, *, wait: float = 60.0
) -> Attached:
    """Verify a TSA's response file, keep it (and the CA certificate, as PEM) beside its
    checkpoint, append a ``timestamp-attached`` event and sign a new checkpoint. See
    :func:`examine` for the refusals; UsageError if this very token was attached before."""
    token, n, data, ca_cert = _examine(archive, response, ca)
    ca_pem = ca_cert.public_bytes(Encoding.PEM)
    token_sha256 = hashlib.sha256(data).hexdigest()
    folder = timestamps_dir(archive)
    with archive.lock(wait=wait):
        archive.recover()
        writer = archive.log_writer()  # refuses a damaged log before anything is written
        logged = _attached_event(archive, token_sha256)
        if logged is not None:
            raise UsageError(
                f"this token is already attached to checkpoint {n} "
                f"({logged['details'].get('token')}, custody event {logged['seq']})",
                hint="nothing to do; `constancia verify` checks it",
            )
        stem = _slot(folder, n, data)
        _make_folder(folder)
        # The CA first: a token is only ever on disk with the certificate that checks it.
        if not (folder / f"{stem}.ca.pem").exists() or not (folder / f"{stem}.tsr").exists():
            write_atomic(folder / f"{stem}.ca.pem", ca_pem)
        if not (folder / f"{stem}.tsr").exists():
            _store_new(folder / f"{stem}.tsr", data)
        checkpoint = (archive.checkpoints_dir / str(n)).read_bytes()
        root = open_checkpoint(
            checkpoint, archive.settings.origin, archive.custodian().public_key
        ).root
        rel = f"custody/timestamps/{stem}.tsr"
        event = writer.add(
            signer,
            ACTION,
            None,
            {
                "checkpoint": n,
                "root": base64.b64encode(root).decode("ascii"),
                "gen_time": token.time_text,
                "tsa": token.tsa,
                "serial": f"{token.serial:#x}",
                "token_sha256": token_sha256,
                "token": rel,
            },
        )
        new = writer.checkpoint(signer)
    return Attached(
        n, token, rel, f"custody/timestamps/{stem}.ca.pem", token_sha256, event, new.size
    )


def _attached_event(archive: Archive, token_sha256: str) -> dict[str, Any] | None:
    needle = token_sha256.encode()
    for line in read_lines(archive.log_path).lines:
        if needle not in line:
            continue
        try:
            event = parse_event(line)
        except FormatError:
            continue
        if event["action"] == ACTION and event["details"].get("token_sha256") == token_sha256:
            return event
    return None


def _slot(folder: Path, n: int, response: bytes) -> str:
    """The file stem for a new token of checkpoint N: N, N-2, N-3, …; or the stem where an
    interrupted attach already stored this very token (its event was never written)."""
    k = 1
    while True:
        stem = str(n) if k == 1 else f"{n}-{k}"
        path = folder / f"{stem}.tsr"
        if not path.exists() or path.read_bytes() == response:
            return stem
        k += 1


def _make_folder(folder: Path) -> None:
    if not folder.is_dir():
        folder.mkdir()
        fsync_dir(folder.parent)


def _store_new(path: Path, data: bytes) -> None:
    """Create ``path`` complete or not at all, and never replace it."""
    tmp = temp_name(path)
    write_file(tmp, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise StorageError("already exists and is never replaced", path=path) from None
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
