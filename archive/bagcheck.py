#!/usr/bin/env python3
"""Check a Constancia evidence package (docs/evidence-package.md) with Python's standard library.

This one file is copied verbatim into every package as ``verify.py`` and imported by
``constancia verify-package``, so a recipient and the archive reach the same verdict by
construction. That is why it is one module of about 1,200 lines, where the style asks for
under ~400: it must travel alone, import nothing of ours or anyone's, and run on a bare Debian
``python3``, so the verifiers our other modules take from libraries (Ed25519, SSHSIG, signed
notes, Merkle proofs, BagIt) live here too, each in its own section below::

    python3 -I verify.py [PACKAGE] [--json] [--custodian SHA256:...]

Exit status 0 (all good), 1 (problems found), 2 (could not run). Public API:

- :func:`check_package` returns ``{"ok", "artefacts", "events", "checkpoint", "problems"}``,
  the shape of ``constancia verify --json``; it reports every problem, never raises for a bad
  package, and raises :class:`NotABag` only when ``root`` is not a folder holding bagit.txt.
- :func:`ed25519_verify` (RFC 8032, pure Python), :func:`sshsig_verify` (OpenSSH SSHSIG),
  :func:`open_checkpoint` (C2SP signed note) and :func:`verify_inclusion` (RFC 9162): the
  building blocks, which raise :class:`Invalid` (or return ``False``) for anything wrong.

A package is untrusted input: every file is opened without following symbolic links, large
files are read in chunks, and no malformed byte leads to a traceback, only to a finding.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

Verifier = Callable[[bytes, bytes, bytes], bool]
Problem = dict[str, str | None]


class Invalid(ValueError):
    """Malformed input or a signature or proof that does not verify; ``str(e)`` says which."""


class BadSignature(Invalid):
    """Well formed, but the signature does not verify (for notes: CHECKPOINT_SIGNATURE_INVALID)."""


class NotABag(Exception):
    """The folder does not exist or holds no bagit.txt: nothing to check (exit status 2)."""


# --- Ed25519 (RFC 8032), extended twisted Edwards coordinates (X, Y, Z, T), x=X/Z, xy=T/Z ----

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_D2 = 2 * _D % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_IDENTITY = (0, 1, 1, 0)
_Point = tuple[int, int, int, int]
_Cached = tuple[int, int, int, int]  # (Y+X, Y-X, 2Z, 2dT): a point ready to be added
_B_WINDOW = 8  # wNAF width for B: 64 precomputed odd multiples, about 1 addition per 9 bits
_A_WINDOW = 5  # wNAF width for A: 8 odd multiples computed per signature


def _decode_point(s: bytes) -> _Point | None:
    """RFC 8032 5.1.3; None for a wrong length, y >= p (non-canonical), no square root, or
    x = 0 with the sign bit set (the second, non-canonical spelling of those points)."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _double(p: _Point) -> _Point:
    # dbl-2008-hwcd for a = -1.
    x1, y1, z1, _ = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _add_cached(p: _Point, q: _Cached, negate: bool) -> _Point:
    """p + q, or p - q (-q swaps Y+X and Y-X and negates 2dT): add-2008-hwcd-3 for a = -1,
    complete (right for doubling and the identity too)."""
    x1, y1, z1, t1 = p
    ypx, ymx, z2, t2d = q
    if negate:
        ypx, ymx, t2d = ymx, ypx, -t2d
    a = (y1 - x1) * ymx % _P
    b = (y1 + x1) * ypx % _P
    c = t1 * t2d % _P
    d = z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _odd_multiples(p: _Point, count: int) -> list[_Cached]:
    """p, 3p, 5p, ... (count points) as (Y+X, Y-X, 2Z, 2dT), ready to add."""
    out = [p]
    twice = _cached(_double(p))
    for _ in range(count - 1):
        out.append(_add_cached(out[-1], twice, False))
    return [_cached(q) for q in out]


def _cached(p: _Point) -> _Cached:
    x, y, z, t = p
    return ((y + x) % _P, (y - x) % _P, 2 * z % _P, _D2 * t % _P)


@functools.cache
def _base_table() -> list[_Cached]:
    # Computed on first use (about 2 ms), not at import: `verify-package` never needs it.
    base = _decode_point(bytes.fromhex("58" + "66" * 31))
    assert base is not None
    return _odd_multiples(base, 1 << (_B_WINDOW - 2))


@functools.lru_cache(maxsize=64)
def _key_table(public_key: bytes) -> list[_Cached] | None:
    """The odd multiples of a public key; None unless it is a canonical point of large order.
    Small-order keys are refused (as libsodium does): every signature verifies under them.
    Memoised: a package holds a handful of keys that sign hundreds of items, and decoding
    is a square root (about 0.2 ms)."""
    a = _decode_point(public_key)
    if a is None:
        return None
    x8, y8, z8, _ = _double(_double(_double(a)))
    if x8 == 0 and y8 == z8:  # [8]A is the identity
        return None
    return _odd_multiples(a, 1 << (_A_WINDOW - 2))


def _wnaf(k: int, width: int) -> list[int]:
    """Width-w non-adjacent form, least significant digit first; digits odd, |d| < 2^(w-1)."""
    digits = []
    full, half = 1 << width, 1 << (width - 1)
    while k:
        d = 0
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        digits.append(d)
        k >>= 1
    return digits


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 Ed25519 verification (5.1.7), in pure Python; True if the signature is valid.

    Cofactorless: accepts iff [S]B = R + [k]A exactly, as OpenSSL (hence pyca/cryptography,
    the verifier `constancia verify-package` passes in) does. The cofactored equation would
    also accept signatures whose R or A carry a small-order component, which OpenSSL refuses;
    with the same equation on both paths, recipients and the archive cannot disagree.

    A must canonically encode a point of large order, and S < L. R is not decoded: the
    canonical encoding of [S]B - [k]A must equal R's 32 bytes, which refuses a non-canonical
    or invalid R as decoding would, for one inversion instead of a square root. [S]B - [k]A
    is one Straus double-scalar multiplication (wNAF digits, shared doublings, a precomputed
    table for B): about 1.6 ms here.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    table_a = _key_table(bytes(public_key))
    s = int.from_bytes(signature[32:], "little")
    if table_a is None or s >= _L:
        return False
    h = hashlib.sha512(signature[:32] + public_key + message).digest()
    k = int.from_bytes(h, "little") % _L
    table_b = _base_table()
    ds, dk = _wnaf(s, _B_WINDOW), _wnaf(k, _A_WINDOW)
    ds += [0] * (len(dk) - len(ds))
    dk += [0] * (len(ds) - len(dk))
    acc = _IDENTITY
    for i in range(len(ds) - 1, -1, -1):
        acc = _double(acc)
        if d := ds[i]:
            acc = _add_cached(acc, table_b[abs(d) >> 1], d < 0)
        if d := dk[i]:  # subtracted: this computes [S]B - [k]A
            acc = _add_cached(acc, table_a[abs(d) >> 1], d > 0)
    x, y, z, _ = acc
    zi = pow(z, -1, _P)
    x, y = x * zi % _P, y * zi % _P
    return hmac.compare_digest((y | (x & 1) << 255).to_bytes(32, "little"), signature[:32])


def _well_formed(public_key: bytes, signature: bytes) -> bool:
    """A canonical A of large order and S < L: checked for every verifier, so that both
    paths refuse the same signatures (OpenSSL accepts a non-canonical A, y >= p or "-0",
    and keys of small order)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    s = int.from_bytes(signature[32:], "little")
    return _key_table(bytes(public_key)) is not None and s < _L


# --- SSHSIG (OpenSSH PROTOCOL.sshsig), ssh-ed25519 and sha512 only -------------------------

_SSHSIG_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_SSHSIG_END = "-----END SSH SIGNATURE-----"
_ED25519 = b"ssh-ed25519"


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _strings(data: bytes, count: int) -> list[bytes]:
    """Exactly ``count`` RFC 4253 wire strings (uint32 length, bytes), nothing after them."""
    out, pos = [], 0
    for _ in range(count):
        n = int.from_bytes(data[pos : pos + 4], "big") if len(data) >= pos + 4 else -1
        if n < 0 or pos + 4 + n > len(data):
            raise Invalid("the signature is truncated")
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    if pos != len(data):
        raise Invalid("the signature has trailing bytes")
    return out


def _ed25519_field(blob: bytes, size: int, what: str) -> bytes:
    kind, payload = _strings(blob, 2)
    if kind != _ED25519 or len(payload) != size:
        raise Invalid(f"the {what} is not a {size}-byte ssh-ed25519 one")
    return payload


def _dearmor(data: bytes) -> bytes:
    try:
        text = data.decode("ascii").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise Invalid("the signature is neither SSHSIG nor armored text") from None
    lines = text.removesuffix("\n").split("\n")
    if len(lines) < 3 or lines[0] != _SSHSIG_BEGIN or lines[-1] != _SSHSIG_END:
        raise Invalid("the signature is not an armored SSH SIGNATURE")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("the signature's base64 text is damaged") from None


def sshsig_verify(
    message_sha512: bytes, signature: bytes, namespace: str, verify: Verifier = ed25519_verify
) -> bytes:
    """The raw 32-byte key that made ``signature`` (armored or binary SSHSIG) over the message
    whose SHA-512 is ``message_sha512``, in ``namespace``; :class:`Invalid` otherwise."""
    blob = signature if signature.startswith(b"SSHSIG") else _dearmor(signature)
    if blob[:10] != b"SSHSIG\0\0\0\1":
        raise Invalid("not an SSHSIG version 1 signature")
    key_blob, ns, reserved, algorithm, sig_blob = _strings(blob[10:], 5)
    public_key = _ed25519_field(key_blob, 32, "signing key")
    sig = _ed25519_field(sig_blob, 64, "signature")
    # Refused, not ignored as the spec allows: the reserved field is not signed.
    if reserved:
        raise Invalid("the signature's reserved field is not empty")
    if ns != namespace.encode():
        raise Invalid(f"the signature is for namespace {ns.decode('utf-8', 'replace')!r}")
    if algorithm != b"sha512":
        raise Invalid("the signature does not use sha512")
    signed = b"SSHSIG" + _string(ns) + _string(b"") + _string(b"sha512") + _string(message_sha512)
    if not (_well_formed(public_key, sig) and verify(public_key, signed, sig)):
        raise BadSignature("the signature does not match the signed bytes")
    return public_key


# --- C2SP signed note and tlog-checkpoint --------------------------------------------------

_NOTE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def _b64_canonical(text: str) -> bytes:
    """Padded standard base64 in its one canonical spelling (no second form of one value)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise Invalid("not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise Invalid("not canonical base64")
    return raw


def _parse_note(note: bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text (final newline included) and its (key name, key ID + signature)
    lines, checked for form only; :class:`Invalid` if malformed."""
    try:
        whole = note.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the note is not UTF-8") from None
    if _NOTE_CONTROL.search(whole):
        raise Invalid("the note holds control characters")
    split = whole.rfind("\n\n")
    if split < 0 or not whole.endswith("\n"):
        raise Invalid("the note has no signature block")
    text, block = whole[: split + 1], whole[split + 2 : -1].split("\n")
    if len(block) > 100:
        raise Invalid("the note has more than 100 signatures")
    signatures = []
    for line in block:
        signer, sep, b64 = line.removeprefix("— ").partition(" ")
        if not line.startswith("— ") or not sep or not signer or "+" in signer:
            raise Invalid("a signature line is not '— name signature'")
        raw = _b64_canonical(b64)
        if len(raw) < 5:
            raise Invalid("a signature line is too short")
        signatures.append((signer, raw))
    return text, signatures


def _parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or not _DECIMAL.fullmatch(lines[1]):
        raise Invalid("the checkpoint's body is not origin, tree size, root")
    root = _b64_canonical(lines[2])
    if len(root) != 32 or any(not x for x in lines[3:]):
        raise Invalid("the checkpoint's root is not 32 bytes, or it has an empty line")
    return lines[0], int(lines[1]), root


def open_checkpoint(
    note: bytes, name: str, public_key: bytes, verify: Verifier = ed25519_verify
) -> tuple[str, int, bytes]:
    """(origin, tree size, 32-byte root) of a signed checkpoint, once every signature line
    by key ``name`` with this key's ID verifies (lines by other keys are ignored, as the spec
    says). :class:`BadSignature` if none does or any fails; :class:`Invalid` if malformed."""
    text, signatures = _parse_note(note)
    checkpoint = _parse_checkpoint(text)
    kid = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    mine = [raw[4:] for signer, raw in signatures if signer == name and raw[:4] == kid]
    if not mine:
        raise BadSignature(f"the checkpoint has no signature by key {name}+{kid.hex()}")
    message = text.encode()
    for sig in mine:
        if not (_well_formed(public_key, sig) and verify(public_key, message, sig)):
            raise BadSignature(f"the checkpoint's signature by {name}+{kid.hex()} is invalid")
    return checkpoint


# --- RFC 9162 Merkle inclusion proofs ------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\0" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\1" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: is the leaf hash ``leaf`` leaf ``index`` of the tree of ``size``
    leaves with this root, by the audit path ``proof`` (leaf side first)?"""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


# --- Files: never following a symbolic link, large ones in chunks --------------------------

_CHUNK = 4 << 20
_THREADED = 1 << 20  # below this, handing chunks to threads costs more than it saves
_SMALL = 1 << 16  # bagit.txt, keys, proofs lines, signatures
_MAX_RECORD = 16 << 20  # records, checkpoint, bag-info, one line of events.jsonl
_MAX_LINE = 1 << 20  # one manifest line
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_Digests = tuple[str, str, int]  # sha256 hex, sha512 hex, size


def _open_regular(path: Path) -> int:
    """A descriptor for a regular file; OSError for a symlink, device, pipe or folder."""
    fd = os.open(path, _OPEN_FLAGS | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return fd


def _read_limited(path: Path, limit: int) -> bytes:
    fd = _open_regular(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"larger than {limit >> 10} KiB")
    return data


def _lines(path: Path, limit: int) -> Iterator[bytes | None]:
    """The file's lines, each with its newline; None for a line longer than ``limit``."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        while line := f.readline(limit + 1):
            if len(line) > limit and not line.endswith(b"\n"):
                while (rest := f.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the overlong line, a chunk at a time
                yield None
            else:
                yield line


def _wait(pending: tuple[Future[None], Future[None]] | None) -> None:
    for future in pending or ():
        future.result()


def _hash_fd(fd: int, pool: Callable[[], ThreadPoolExecutor]) -> _Digests:
    """SHA-256 and SHA-512 in one read. For large files the two hashes run in two threads
    (hashlib releases the GIL) while this thread reads the next chunk: both cores busy."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    size = 0
    chunk = os.read(fd, _CHUNK)
    pending: tuple[Future[None], Future[None]] | None = None
    while chunk:
        size += len(chunk)
        if size < _THREADED:
            h256.update(chunk)
            h512.update(chunk)
        else:
            _wait(pending)
            pending = (pool().submit(h256.update, chunk), pool().submit(h512.update, chunk))
        chunk = os.read(fd, _CHUNK)
    _wait(pending)
    return h256.hexdigest(), h512.hexdigest(), size


# --- Bag structure -------------------------------------------------------------------------

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
PACKAGE_FORMAT = "constancia-package/1"
#: The tag files both tag manifests must cover.
TAG_FILES = (
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "manifest-sha512.txt",
    "VERIFY.txt",
    "verify.py",
)
_MANIFEST_LINE = re.compile(r"([0-9a-fA-F]+)[ \t]+(.+)")
_PERCENT = re.compile(r"%(25|0[aAdD])")
_HEX_SIZE = {"sha256": 64, "sha512": 128}
_SHA256_ID = re.compile(r"[0-9a-f]{64}")
#: bag-info.txt labels that must appear exactly once.
_ONE_VALUE = (
    "Payload-Oxum",
    "Internal-Sender-Identifier",
    "Constancia-Package",
    "Constancia-Custodian",
    "Constancia-Exporter",
    "Constancia-Artefacts",
)
_RECORD_ACTIONS = ("ingest", "import", "derived-added", "metadata-revised")
_ARRIVALS = ("ingest", "import")
_EVENT_TYPES: dict[str, type | tuple[type, ...]] = {"action": str, "actor": dict, "seq": int}
_EVENT_TYPES |= {"artefact": (str, type(None)), "details": dict, "sig": str, "time": str}
_EVENT_FIELDS = sorted(_EVENT_TYPES)
_SAFE_INT = 2**53
_SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")  # DER SubjectPublicKeyInfo prefix


def fingerprint(public_key: bytes) -> str:
    """``SHA256:...`` of a raw Ed25519 key, exactly as ``ssh-keygen -l`` prints it."""
    blob = _string(_ED25519) + _string(public_key)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _safe_path(path: str) -> bool:
    parts = path.split("/")
    return "\0" not in path and all(p not in ("", ".", "..") for p in parts)


def _shown(path: str) -> str:
    """A path from the filesystem as valid text (names that are not UTF-8 keep their bytes)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _plain(value: Any) -> bool:
    """Values whose sorted compact JSON is their RFC 8785 form: no floats, integers within
    2^53, object keys in the BMP (RFC 8785 sorts by UTF-16 units, Python by code points)."""
    if isinstance(value, str | bool) or value is None:
        return True
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(max(map(ord, k), default=0) < 0x10000 and _plain(v) for k, v in value.items())
    return False


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _parse_event(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid("not JSON") from None
    if not isinstance(event, dict) or sorted(event) != _EVENT_FIELDS:
        raise Invalid("not a custody event (its fields differ)")
    if not _plain(event) or _canonical(event) != line:
        raise Invalid("not in canonical form (RFC 8785)")
    actor, seq = event["actor"], event["seq"]
    if (
        not all(isinstance(event[k], t) for k, t in _EVENT_TYPES.items())
        or isinstance(seq, bool)
        or seq < 0
        or sorted(actor) != ["key", "name"]
        or not all(isinstance(v, str) for v in actor.values())
    ):
        raise Invalid("a field of the event has the wrong type")
    return event


def _parse_proof(line: bytes) -> tuple[int, int, list[bytes]]:
    try:
        proof = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid("not JSON") from None
    if not isinstance(proof, dict) or sorted(proof) != ["hashes", "index", "size"]:
        raise Invalid("not {hashes, index, size}")
    index, size, hashes = proof["index"], proof["size"], proof["hashes"]
    if type(index) is not int or type(size) is not int or not isinstance(hashes, list):
        raise Invalid("index and size must be integers, hashes a list")
    if len(hashes) > 64 or not all(isinstance(h, str) for h in hashes):
        raise Invalid("hashes must be at most 64 base64 strings")
    return index, size, [_b64_canonical(h) for h in hashes]


class _Checker:
    """One run over one package; collects problems, never stops at the first."""

    def __init__(self, root: Path, verify: Verifier) -> None:
        self.root = root
        self.verify = verify
        self.problems: list[Problem] = []
        self.info: dict[str, list[str]] = {}
        self.files: dict[str, int] = {}  # regular payload files: bag path -> size
        self.unlisted: set[str] = set()  # payload files in no manifest (reported once)
        self.odd: set[str] = set()  # payload entries that are not regular files
        self.digests: dict[str, _Digests] = {}  # payload and tag files, each hashed once
        self.keys: dict[str, tuple[str, bytes]] = {}  # fingerprint -> (name, raw key)
        self.checkpoint: tuple[str, int, bytes] | None = None  # read, even if badly signed
        self.checkpoint_signed = False
        self.artefacts = 0
        self.events = 0
        self.arrived: set[str] = set()
        self.named_records: dict[str, set[str]] = {}
        self.signers: dict[str, Counter[str]] = {
            role: Counter() for role in ("custodian", "exporter", "records", "events")
        }
        self._pool: ThreadPoolExecutor | None = None
        # Large payload files hash on a background thread while the later steps run; a
        # check that needs one of them waits for it there.
        self._reader: ThreadPoolExecutor | None = None
        self.pending: dict[str, Future[_Digests]] = {}
        # Checks put off until those hashes are in: (where their problems go, the check).
        self._later: list[tuple[int, Callable[[], None]]] = []

    def add(self, code: str, message: str, path: str | None = None, id: str | None = None) -> None:
        if id is None and path is not None and path.startswith("data/artefacts/"):
            id = path.split("/")[2]
        # Names read from disk may hold undecodable bytes: keep them printable as escapes.
        self.problems.append(
            {
                "code": code,
                "id": None if id is None else _shown(id),
                "path": None if path is None else _shown(path),
                "message": _shown(message),
            }
        )

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="bagcheck-hash")
        return self._pool

    def close(self) -> None:
        if self._reader is not None:
            self._reader.shutdown(cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown()

    def later(self, check: Callable[[], None]) -> None:
        """Run ``check`` at the end of the run; its problems take the place in the report
        they would have had if it had run now."""
        self._later.append((len(self.problems), check))

    def run_later(self) -> None:
        # From the last: inserting its problems moves none of the places still to fill.
        for place, check in reversed(self._later):
            kept, self.problems = self.problems, []
            try:
                check()
            finally:
                found, self.problems = self.problems, kept
            self.problems[place:place] = found
        self._later.clear()

    def label(self, name: str) -> str | None:
        values = self.info.get(name)
        return values[0] if values else None

    def key_name(self, fp: str) -> str:
        return self.keys[fp][0] if fp in self.keys else "(not in data/keys)"

    def known(self, raw: bytes, path: str, art: str | None = None) -> str | None:
        """The fingerprint of a key that made a valid signature, if data/keys holds it."""
        fp = fingerprint(raw)
        if fp not in self.keys:
            self.add("SIGNER_UNKNOWN", f"signed by {fp}, a key not in data/keys", path, art)
            return None
        return fp

    # Each step uses what the earlier ones found; their order is the order of the report.
    def run(self) -> None:
        self.check_bagit()
        self.check_bag_info()
        self.walk_payload()
        self.check_payload()
        self.check_tag_manifests()
        self.check_oxum()
        self.read_keys()
        self.check_tag_signature()
        self.check_checkpoint()
        self.check_events()
        self.check_artefacts()
        self.run_later()

    def check_bagit(self) -> None:
        try:
            data = _read_limited(self.root / "bagit.txt", _SMALL)
        except OSError as e:
            self.add("BAG_INVALID", f"cannot be read ({e})", "bagit.txt")
            return
        if data != BAGIT_TXT:
            self.add("BAG_INVALID", "is not exactly the two lines of BagIt 1.0", "bagit.txt")

    def check_bag_info(self) -> None:
        rel = "bag-info.txt"
        try:
            text = _read_limited(self.root / rel, _MAX_RECORD).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            self.add("BAG_INVALID", f"cannot be read as UTF-8 text ({e})", rel)
            return
        last: str | None = None
        for n, line in enumerate(text.removesuffix("\n").split("\n"), start=1):
            line = line.removesuffix("\r")
            if line[:1] in (" ", "\t") and last is not None:
                self.info[last][-1] += " " + line.strip()  # a continuation line
                continue
            label, sep, value = line.partition(":")
            last = label if sep and label and label == label.strip() else None
            if last is None:
                self.add("BAG_INVALID", f"line {n} is not 'Label: value'", rel)
                continue
            self.info.setdefault(label, []).append(value.strip())
        for name in _ONE_VALUE:
            if len(self.info.get(name, [])) != 1:
                self.add("BAG_INVALID", f"must name {name} exactly once", rel)
        if self.info.get("Constancia-Package", [PACKAGE_FORMAT]) != [PACKAGE_FORMAT]:
            self.add("BAG_INVALID", f"is not a {PACKAGE_FORMAT} package", rel)

    def walk_payload(self) -> None:
        try:
            st = os.lstat(self.root / "data")
        except OSError:
            self.add("BAG_INVALID", "the bag has no data/ folder", "data")
            return
        if not stat.S_ISDIR(st.st_mode):
            self.add("UNEXPECTED_FILE", "is not a folder; it was not followed", "data")
            return
        todo = ["data"]
        while todo:
            folder = todo.pop()
            try:
                with os.scandir(self.root / folder) as entries:
                    found = [(e, f"{folder}/{e.name}") for e in entries]
            except OSError as e:
                self.add("BAG_INVALID", f"the folder cannot be read ({e.strerror})", folder)
                continue
            for entry, rel in found:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        self.files[rel] = entry.stat(follow_symlinks=False).st_size
                    else:
                        kind = "a symbolic link" if entry.is_symlink() else "not a regular file"
                        self.add("UNEXPECTED_FILE", f"is {kind}; it was not followed", rel)
                        self.odd.add(rel)
                except OSError as e:
                    self.add("UNEXPECTED_FILE", f"cannot be examined ({e.strerror})", rel)
                    self.odd.add(rel)

    def read_manifest(self, name: str, payload: bool) -> dict[str, str] | None:
        """``path -> hex digest`` of a (tag) manifest, None if unreadable; a malformed line
        is a finding. Payload paths are under data/; tag files are at the top (the format
        has no others), so a tag path reaches no file through a folder link."""
        out: dict[str, str] = {}
        algorithm = name.rsplit("-", 1)[1].removesuffix(".txt")
        try:
            for n, raw in enumerate(_lines(self.root / name, _MAX_LINE), start=1):
                text = b"?" if raw is None else raw.removesuffix(b"\n").removesuffix(b"\r")
                if not text.strip():
                    continue  # blank lines carry nothing; other tools skip them too
                try:
                    m = _MANIFEST_LINE.fullmatch(text.decode("utf-8"))
                except UnicodeDecodeError:
                    m = None
                path = _PERCENT.sub(lambda p: chr(int(p[1], 16)), m[2]) if m else ""
                if (
                    m is None
                    or len(m[1]) != _HEX_SIZE[algorithm]
                    or not _safe_path(path)
                    or not (path.startswith("data/") if payload else "/" not in path)
                    or path in out
                ):
                    self.add("BAG_INVALID", f"line {n} is not '<{algorithm}>  <path>'", name)
                    continue
                out[path] = m[1].lower()
        except OSError as e:
            self.add("BAG_INVALID", f"cannot be read ({e})", name)
            return None
        return out

    def hashed(self, rel: str, quiet: bool = False) -> _Digests | None:
        """The digests of a regular file of the bag, computed once, on first use (or on the
        background thread, for a large payload file)."""
        if rel not in self.digests:
            pending = self.pending.pop(rel, None)
            try:
                self.digests[rel] = pending.result() if pending else self._hash_path(rel)
            except OSError as e:
                if not quiet:
                    self.add("FILE_MISSING", f"cannot be read ({e})", rel)
                return None
        return self.digests[rel]

    def _hash_path(self, rel: str) -> _Digests:
        fd = _open_regular(self.root / rel)
        try:
            return _hash_fd(fd, self.pool)
        finally:
            os.close(fd)

    def reader(self) -> ThreadPoolExecutor:
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="bagcheck-read")
        return self._reader

    def check_payload(self) -> None:
        m256 = self.read_manifest("manifest-sha256.txt", True) or {}
        m512 = self.read_manifest("manifest-sha512.txt", True) or {}
        for rel in sorted(set(m256) ^ set(m512)):
            lacks = "manifest-sha512.txt" if rel in m256 else "manifest-sha256.txt"
            self.add("BAG_INVALID", f"does not list {rel}", lacks)
        listed = sorted(set(m256) | set(m512))
        for rel in listed:
            if rel not in self.odd and self.files.get(rel, 0) >= _THREADED:
                self.pending[rel] = self.reader().submit(self._hash_path, rel)
        for rel in listed:
            if rel in self.odd:
                continue  # reported as it was found
            if rel not in self.files:
                self.add("FILE_MISSING", "is listed in the manifests but not in the package", rel)
                continue
            compare = functools.partial(self.compare, rel, m256, m512)
            if rel in self.pending:
                self.later(compare)
            else:
                compare()
        self.unlisted = set(self.files) - set(m256) - set(m512)
        for rel in sorted(self.unlisted):
            self.add("UNEXPECTED_FILE", "is in data/ but in no manifest", rel)

    def compare(self, rel: str, m256: dict[str, str], m512: dict[str, str]) -> None:
        got = self.hashed(rel)
        wrong = [
            f"SHA-{bits}"
            for bits, want, have in ((256, m256, 0), (512, m512, 1))
            if got is not None and rel in want and want[rel] != got[have]
        ]
        if wrong:
            said = " and ".join(wrong) + (" differ" if len(wrong) > 1 else " differs")
            self.add("FIXITY_MISMATCH", f"its {said} from the manifests", rel)

    def check_tag_manifests(self) -> None:
        for name in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt"):
            which = 0 if name.endswith("256.txt") else 1
            listed = self.read_manifest(name, False)
            if listed is None:
                continue
            for tag in TAG_FILES:
                if tag not in listed:
                    self.add("BAG_INVALID", f"does not cover {tag}", name)
            for rel, want in sorted(listed.items()):
                got = self.hashed(rel, quiet=True)
                if got is None:
                    self.add("FILE_MISSING", f"is listed in {name} but cannot be read", rel)
                elif got[which] != want:
                    self.add("FIXITY_MISMATCH", f"differs from its digest in {name}", rel)

    def check_oxum(self) -> None:
        oxum = self.label("Payload-Oxum")
        if oxum is None:
            return
        m = re.fullmatch(r"([0-9]{1,20})\.([0-9]{1,20})", oxum)
        if m is None:
            self.add("BAG_INVALID", "Payload-Oxum is not '<octets>.<files>'", "bag-info.txt")
            return
        octets, count = sum(self.files.values()), len(self.files)
        if (int(m[1]), int(m[2])) != (octets, count):
            self.add(
                "PAYLOAD_OXUM_MISMATCH",
                f"Payload-Oxum says {oxum}; the payload holds {octets}.{count}",
                "bag-info.txt",
            )

    def read_keys(self) -> None:
        """data/keys: each .pub an ssh-ed25519 line naming a person, its .pem the same key,
        allowed_signers exactly those keys (compared as bytes: the format fixes them)."""
        signers: dict[str, str] = {}
        for rel in sorted(r for r in self.files if r.startswith("data/keys/")):
            stem, _, ext = rel.removeprefix("data/keys/").rpartition(".")
            if ext == "pem" and f"data/keys/{stem}.pub" not in self.files:
                self.add("KEY_INVALID", "has no .pub key beside it", rel)
            if ext != "pub":
                continue
            try:
                parts = _read_limited(self.root / rel, _SMALL).decode().strip().split(None, 2)
                if len(parts) < 3 or parts[0] != "ssh-ed25519" or "\n" in parts[2]:
                    raise Invalid("not 'ssh-ed25519 BASE64 NAME'")
                raw = _ed25519_field(base64.b64decode(parts[1], validate=True), 32, "key")
                pem = _read_limited(self.root / f"data/keys/{stem}.pem", _SMALL)
            except (OSError, ValueError) as e:
                self.add("KEY_INVALID", f"cannot be read as a key and its .pem ({e})", rel)
                continue
            self.keys[fingerprint(raw)] = (parts[2], raw)
            signers[stem] = base64.b64encode(_string(_ED25519) + _string(raw)).decode()
            der = base64.b64encode(_SPKI_ED25519 + raw).decode()
            if pem != f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n".encode():
                self.add("KEY_INVALID", "differs from the .pub key", f"data/keys/{stem}.pem")
        rel = "data/keys/allowed_signers"
        want = "".join(f"{stem} ssh-ed25519 {signers[stem]}\n" for stem in sorted(signers))
        try:
            if _read_limited(self.root / rel, _MAX_RECORD) != want.encode():
                self.add("KEY_INVALID", "does not list exactly the keys of data/keys/*.pub", rel)
        except OSError as e:
            self.add("KEY_INVALID", f"cannot be read ({e})", rel)

    def check_tag_signature(self) -> None:
        rel = "tagmanifest-sha512.txt.sig"
        try:
            sig = _read_limited(self.root / rel, _SMALL)
            digests = self.hashed("tagmanifest-sha512.txt", quiet=True)
            if digests is None:
                raise Invalid("tagmanifest-sha512.txt cannot be read")
            message = bytes.fromhex(digests[1])
            raw = sshsig_verify(message, sig, "constancia-package", self.verify)
        except FileNotFoundError:
            self.add("SIGNATURE_MISSING", "the tag manifest is not signed", rel)
            return
        except (OSError, Invalid) as e:
            self.add("SIGNATURE_INVALID", str(e), rel)
            return
        fp = self.known(raw, rel)
        exporter = (self.label("Constancia-Exporter") or "").rpartition(" ")[2]
        if fp is not None and fp != exporter:
            self.add("SIGNER_UNKNOWN", f"signed by {fp}, not the exporter in bag-info.txt", rel)
        elif fp is not None:
            self.signers["exporter"][fp] += 1

    def check_checkpoint(self) -> None:
        rel = "data/custody/checkpoint"
        name = self.label("Internal-Sender-Identifier") or ""
        custodian = self.label("Constancia-Custodian") or ""
        if custodian not in self.keys:
            self.add("SIGNER_UNKNOWN", "the custodian's key is not in data/keys", "bag-info.txt")
        if rel not in self.files:
            self.add("CHECKPOINT_INVALID", "the package has no regular checkpoint file", rel)
            return
        try:
            note = _read_limited(self.root / rel, _MAX_RECORD)
            # Read first for its root: the proofs are checked against it whatever its signature.
            self.checkpoint = _parse_checkpoint(_parse_note(note)[0])
            if custodian in self.keys:
                open_checkpoint(note, name, self.keys[custodian][1], self.verify)
                self.signers["custodian"][custodian] += 1
                self.checkpoint_signed = True
        except BadSignature as e:
            self.add("CHECKPOINT_SIGNATURE_INVALID", str(e), rel)
        except (Invalid, OSError) as e:
            self.add("CHECKPOINT_INVALID", str(e), rel)
        if self.checkpoint is not None and self.checkpoint[0] != name:
            self.add("CHECKPOINT_INVALID", "its origin is not Internal-Sender-Identifier", rel)

    def read_proofs(self) -> tuple[dict[int, tuple[int, list[bytes]]], list[int]]:
        """Proofs by leaf index, and the index each line names (-1 if malformed)."""
        rel = "data/custody/proofs.jsonl"
        by_index: dict[int, tuple[int, list[bytes]]] = {}
        order: list[int] = []
        top = -1
        if rel not in self.files:
            self.add("LOG_EVENT_MISSING", "the package has no proofs.jsonl", rel)
            return by_index, order
        for n, line in enumerate(_lines(self.root / rel, _SMALL), start=1):
            try:
                if line is None or not line.endswith(b"\n"):
                    raise Invalid("too long, or no newline")
                index, size, hashes = _parse_proof(line[:-1])
            except Invalid as e:
                self.add("INCLUSION_PROOF_INVALID", f"line {n} is malformed ({e})", rel)
                order.append(-1)
                continue
            if index in by_index or index < top:
                self.add("LOG_OUT_OF_ORDER", f"line {n}: leaf indexes do not ascend", rel)
            top = max(top, index)
            order.append(index)
            by_index.setdefault(index, (size, hashes))
        return by_index, order

    def check_events(self) -> None:
        rel = "data/custody/events.jsonl"
        proofs, order = self.read_proofs()
        if rel not in self.files:
            self.add("LOG_EVENT_MISSING", "the package has no events.jsonl", rel)
            return
        used: set[int] = set()
        last = -1
        for n, line in enumerate(_lines(self.root / rel, _MAX_RECORD), start=1):
            self.events += 1
            event = None
            try:
                if line is None or not line.endswith(b"\n"):
                    raise Invalid("too long, or no newline")
                event = _parse_event(line[:-1])
            except Invalid as e:
                self.add("LOG_LINE_INVALID", f"line {n}: {e}", rel)
            # A line that cannot be read is checked against the proof in its position.
            index = event["seq"] if event is not None else (order[n - 1 :] or [-1])[0]
            if event is not None and index <= last:
                self.add("LOG_OUT_OF_ORDER", f"line {n}: event {index} is out of order", rel)
            last = max(last, index)
            if index not in proofs:
                self.add("LOG_EVENT_MISSING", f"line {n} has no inclusion proof", rel)
            else:
                used.add(index)
                if line is not None:
                    self.check_inclusion(n, line.removesuffix(b"\n"), index, *proofs[index])
            if event is not None:
                self.check_event(n, event)
        for index in sorted(set(proofs) - used):
            self.add("LOG_EVENT_MISSING", f"event {index} has a proof but no line", rel)

    def check_inclusion(
        self, n: int, line: bytes, index: int, size: int, hashes: list[bytes]
    ) -> None:
        if self.checkpoint is None:
            return
        _, cp_size, root = self.checkpoint
        if size != cp_size or not verify_inclusion(leaf_hash(line), index, size, hashes, root):
            self.add(
                "INCLUSION_PROOF_INVALID",
                f"line {n} (event {index}) is not in the checkpoint's tree by its proof",
                "data/custody/events.jsonl",
            )

    def check_event(self, n: int, event: dict[str, Any]) -> None:
        rel = "data/custody/events.jsonl"
        art = event["artefact"]
        unsigned = _canonical({k: v for k, v in event.items() if k != "sig"})
        try:
            blob = base64.b64decode(event["sig"], validate=True)
            digest = hashlib.sha512(unsigned).digest()
            raw = sshsig_verify(digest, blob, "constancia-event", self.verify)
        except ValueError as e:  # Invalid, or binascii.Error for damaged base64
            self.add("EVENT_SIGNATURE_INVALID", f"line {n} (event {event['seq']}): {e}", rel, art)
            return
        actor = event["actor"]["key"]
        if fingerprint(raw) != actor or actor not in self.keys:
            why = "is not in data/keys" if fingerprint(raw) == actor else "did not sign it"
            self.add("SIGNER_UNKNOWN", f"line {n}: its actor's key {actor} {why}", rel, art)
            return
        self.signers["events"][actor] += 1
        if event["action"] in _ARRIVALS and art:
            self.arrived.add(art)
        record = event["details"].get("record")
        if event["action"] in _RECORD_ACTIONS and art and isinstance(record, dict):
            self.named_records.setdefault(art, set()).add(str(record.get("sha256")))

    def check_artefacts(self) -> None:
        prefix = "data/artefacts/"
        held: dict[str, set[str]] = {}  # the files in each artefact's folder, found once
        for r in self.files:
            if r.startswith(prefix):
                art, sep, _ = r[len(prefix) :].partition("/")
                if sep:
                    held.setdefault(art, set()).add(r)
        folders = sorted(held)
        self.artefacts = len(folders)
        if self.label("Constancia-Artefacts") not in (None, str(len(folders))):
            self.add("BAG_INVALID", "Constancia-Artefacts is not the number held", "bag-info.txt")
        named: set[str] = set()
        for art in folders:
            named |= self.check_artefact(art, prefix + art, held[art])
        self.check_unnamed(named)

    def check_unnamed(self, named: set[str]) -> None:
        """Payload files the format has no place for: in an artefact's folder, files its
        signed record does not name; elsewhere, anything but custody files and keys."""
        custody = {f"data/custody/{n}" for n in ("events.jsonl", "proofs.jsonl", "checkpoint")}
        expected = named | custody | self.unlisted
        for rel in sorted(self.files):
            if not rel.startswith("data/") or rel in expected:
                continue
            name = rel[len("data/keys/") :] if rel.startswith("data/keys/") else "/"
            if "/" not in name and (name == "allowed_signers" or name.endswith((".pub", ".pem"))):
                continue  # each key file is checked where keys are read
            why = (
                "not named by the artefact's signed record"
                if rel.startswith("data/artefacts/")
                else "not part of an evidence package"
            )
            self.add("UNEXPECTED_FILE", why, rel)

    def check_artefact(self, art: str, folder: str, everything: set[str]) -> set[str]:
        """Check one artefact's folder, which holds the files ``everything``; return the files
        its record accounts for (all of them when the record cannot be read: that problem is
        reported already)."""
        rel = f"{folder}/record.json"
        if rel not in self.files:
            self.add("RECORD_MISSING", "the artefact has no record.json", rel, art)
            return everything
        try:
            data = _read_limited(self.root / rel, _MAX_RECORD)
        except OSError as e:
            self.add("RECORD_INVALID", f"cannot be read ({e})", rel, art)
            return everything
        self.check_record_signature(art, rel, data)
        if art not in self.arrived:
            self.add("ARTEFACT_NOT_IN_LOG", "no valid ingest or import event", folder, art)
        rsha = self.digests[rel][0] if rel in self.digests else hashlib.sha256(data).hexdigest()
        if rsha not in self.named_records.get(art, set()):
            self.add("EVENT_RECORD_MISMATCH", "no custody event names this record", rel, art)
        try:
            record = json.loads(data.decode("utf-8"))
            original = record["original"]
            if record["format"] != "constancia-record/1" or not all(
                isinstance(original[k], str) for k in ("sha256", "sha512", "path")
            ):
                raise Invalid("not a constancia-record/1 with the original's digests and path")
            if not all(k in record for k in ("id", "version", "metadata", "ingested")):
                raise Invalid("it lacks a required field")
        except (UnicodeDecodeError, ValueError, RecursionError, LookupError, TypeError) as e:
            self.add("RECORD_INVALID", f"is not a record ({e.__class__.__name__}: {e})", rel, art)
            return everything
        path = f"{folder}/{original['path']}"
        named = {rel, rel + ".sig", path}
        ok = _safe_path(original["path"]) and path in self.files
        got = self.hashed(path) if ok else None
        if got is None or not (
            record["id"] == art == original["sha256"] == got[0]
            and (original["sha512"], original.get("size")) == got[1:]
            and _SHA256_ID.fullmatch(art)
        ):
            msg = "the original, its folder name and its signed record do not agree"
            self.add("RECORD_DIGEST_MISMATCH", msg, path, art)
        derived = record.get("derived")
        for name, info in (derived if isinstance(derived, dict) else {}).items():
            if isinstance(info, dict) and isinstance(info.get("path"), str):
                dpath = f"{folder}/{info['path']}"
                named.add(dpath)
                ok = _safe_path(info["path"]) and dpath in self.files
                digests = self.hashed(dpath) if ok else None
                if digests is None or digests[0] != info.get("sha256"):
                    msg = f"the derived {name} differs from its signed record"
                    self.add("RECORD_DIGEST_MISMATCH", msg, dpath, art)
        return named

    def check_record_signature(self, art: str, rel: str, data: bytes) -> None:
        try:
            sig = _read_limited(self.root / (rel + ".sig"), _SMALL)
            digest = hashlib.sha512(data).digest()
            raw = sshsig_verify(digest, sig, "constancia-record", self.verify)
        except FileNotFoundError:
            self.add("SIGNATURE_MISSING", "the record is not signed", rel, art)
            return
        except (OSError, Invalid) as e:
            self.add("SIGNATURE_INVALID", str(e), rel, art)
            return
        fp = self.known(raw, rel, art)
        if fp is not None:
            self.signers["records"][fp] += 1

    def verdict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "artefacts": self.artefacts,
            "events": self.events,
            "checkpoint": self.checkpoint[1]
            if self.checkpoint and self.checkpoint_signed
            else None,
            "problems": self.problems,
        }


_PURE_VERIFY = ed25519_verify


def _run(root: Path, verify: Verifier | None, custodian: str | None) -> _Checker:
    root = Path(os.path.realpath(root))  # a link the user names is followed; none inside
    if not root.is_dir() or not os.path.lexists(root / "bagit.txt"):
        raise NotABag(f"{root} is not a BagIt bag (it holds no bagit.txt)")
    checker = _Checker(root, verify or _PURE_VERIFY)
    try:
        checker.run()
    finally:
        checker.close()
    if custodian is not None:
        want = ("" if custodian.startswith("SHA256:") else "SHA256:") + custodian.rstrip("=")
        have = checker.label("Constancia-Custodian")
        if want != have:
            checker.add(
                "CHECKPOINT_SIGNATURE_INVALID",
                f"the checkpoint's signer is {have}, not the custodian given ({want})",
                "data/custody/checkpoint",
            )
    return checker


def check_package(
    root: Path,
    *,
    ed25519_verify: Verifier | None = None,
    custodian: str | None = None,
) -> dict[str, Any]:
    """The verdict on the package at ``root``: ``{"ok", "artefacts", "events", "checkpoint",
    "problems": [{"code", "id", "path", "message"}]}``, every problem found, paths relative to
    the package. ``ed25519_verify(public_key, message, signature)`` replaces the pure-Python
    verifier; ``custodian`` (``SHA256:...``) must be the checkpoint's signer. Raises
    :class:`NotABag` if ``root`` is not a folder holding bagit.txt."""
    return _run(root, ed25519_verify, custodian).verdict()


# --- Command line --------------------------------------------------------------------------

_ROLES = {
    "custodian": "custodian, signed the checkpoint / custodio, firmó el punto de control",
    "exporter": "exporter, signed the tag manifest / exportador, firmó el manifiesto",
    "records": "signed records / firmó registros",
    "events": "signed custody events / firmó eventos de custodia",
}


def _clean(text: str) -> str:
    """Untrusted text (names, paths) made safe for a terminal: no control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _report(checker: _Checker) -> None:
    v = checker.verdict()
    for p in v["problems"]:
        print(f"{p['code']}  {_clean(p['path'] or '-')}  {_clean(p['message'] or '')}")
    a, e, c = v["artefacts"], v["events"], v["checkpoint"]
    if v["ok"]:
        print(
            f"OK: the package is intact and every signature verifies ({a} artefact(s), "
            f"{e} custody event(s), checkpoint of {c} events)."
        )
        print(
            f"CORRECTO: el paquete está íntegro y todas las firmas son válidas ({a} "
            f"artefacto(s), {e} evento(s) de custodia, punto de control de {c} eventos)."
        )
    else:
        n = len(v["problems"])
        print(f"PROBLEMS: {n} problem(s): the package is not intact, or not signed as it says.")
        print(
            f"PROBLEMAS: {n} problema(s): el paquete no está íntegro, o no está firmado como dice."
        )
    print("\nSigners: compare these fingerprints with ones you received another way.")
    print("Firmantes: compare estas huellas con las que recibió por otro medio.")
    for role, label in _ROLES.items():
        for fp, count in sorted(checker.signers[role].items()):
            times = f" ({count})" if role in ("records", "events") else ""
            print(f"  {fp}  {_clean(checker.key_name(fp))}: {label}{times}")


def main(argv: list[str] | None = None, *, ed25519_verify: Verifier | None = None) -> int:
    """The command line of verify.py; returns the exit status. `constancia verify-package`
    calls it too, with a faster ``ed25519_verify``, so both print the same report."""
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="Check a Constancia evidence package with Python's standard library only. "
        "/ Comprueba un paquete de evidencia de Constancia solo con Python.",
        epilog="Exit status: 0 all good, 1 problems found, 2 could not run.",
    )
    parser.add_argument(
        "package",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="the package folder (default: the folder holding this script)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--custodian", metavar="SHA256:...", help="require the checkpoint to be signed by this key"
    )
    parser.add_argument("--traceback", action="store_true", help="show a bug's traceback")
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        checker = _run(args.package, ed25519_verify, args.custodian)
    except NotABag as e:
        print(f"verify.py: {_clean(str(e))}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug of ours, not the package's fault: say so in one line
        if args.traceback:
            raise
        print(f"verify.py: could not finish ({e.__class__.__name__}: {e})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(checker.verdict(), ensure_ascii=False))
    else:
        _report(checker)
    return 0 if checker.verdict()["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
