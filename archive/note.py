"""C2SP signed notes (https://c2sp.org/signed-note), Ed25519 signatures only.

A signed note is a text ending in a newline, a blank line, then one or more signature lines::

    — <key name> base64(key ID (4 bytes) || Ed25519 signature (64 bytes))

The signature covers the text, final newline included, blank line excluded. The key ID is the
first 4 bytes of ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)``. Notes we sign
are byte-for-byte what Go's ``golang.org/x/mod/sumdb/note`` produces for the same key, so the
Go, Rust and other transparency-log tools read them.

Reading is strict: :func:`parse_note` raises :class:`~constancia.errors.FormatError` for any
note that is not well formed, and :func:`verify_note` raises
:class:`~constancia.errors.SignatureError` unless a signature by the given key verifies.
Signatures by other keys are ignored, as the specification requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from constancia.errors import FormatError, SignatureError

#: The signature type byte of Ed25519 in key IDs and verifier keys.
ALG_ED25519 = 0x01
#: Notes with more signature lines are rejected unread (Go's limit; the spec asks >= 16).
MAX_SIGNATURES = 100

_SIG_PREFIX = "— "  # em dash (U+2014), space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_KEY_HASH = re.compile(r"[0-9a-fA-F]{8}")


def _name_ok(name: str) -> bool:
    """Key names: non-empty, no Unicode space, no '+', and (being in a note) no control."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _CONTROL.search(name)
    )


def _b64decode(text: str) -> bytes:
    """Standard, padded base64 in its one canonical spelling; else ValueError."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise ValueError(str(e)) from None
    # Non-zero padding bits decode too: re-encoding refuses a second spelling of one value.
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 key with this name."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key string ``name+hex8keyid+base64(0x01||pubkey)`` that Go's
    ``note.NewVerifier`` and witnesses take. Raises FormatError for a bad name or key."""
    if not _name_ok(name):
        raise FormatError(f"{name!r} cannot be a key name: it must be non-empty, no spaces, no '+'")
    if len(public_key) != 32:
        raise FormatError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    encoded = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(s: str) -> tuple[str, bytes]:
    """The (name, 32-byte Ed25519 public key) of a verifier key string; FormatError unless
    it is well formed, Ed25519, and its key ID matches its name and key."""
    parts = s.split("+", 2)  # base64 may itself hold '+'; names may not
    if len(parts) != 3 or not _name_ok(parts[0]) or not _KEY_HASH.fullmatch(parts[1]):
        raise FormatError("not a verifier key (name+keyid+base64)", hint="check for truncation")
    name, hash_hex, key64 = parts
    try:
        key = _b64decode(key64)
    except ValueError:
        raise FormatError("the verifier key's key part is not base64") from None
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise FormatError("the verifier key is not a 32-byte Ed25519 key")
    if bytes.fromhex(hash_hex) != key_id(name, key[1:]):
        raise FormatError("the verifier key's key ID does not match its name and key")
    return name, key[1:]


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte ID, and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        b64 = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {b64}\n"


@dataclass
class Note:
    """A parsed, not yet verified, note: its text (final newline included) and signatures."""

    text: str
    signatures: list[NoteSignature] = field(default_factory=list)

    def encode(self) -> str:
        """The note as it is written: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The note of ``text`` signed by ``private_key`` under key name ``name``.

    ``text`` must be non-empty, end with a newline, hold no blank line and no control
    character but newline; ``name`` must be non-empty without spaces or '+'. Raises
    FormatError otherwise.
    """
    if not text.endswith("\n") or text.startswith("\n") or "\n\n" in text:
        raise FormatError("a note's text must end with a newline and hold no blank line")
    if _CONTROL.search(text):
        raise FormatError("a note's text must not hold control characters other than newline")
    if not _name_ok(name):
        raise FormatError(f"{name!r} cannot be a key name: it must be non-empty, no spaces, no '+'")
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        message = text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError("a note's text must be valid Unicode") from None
    sig = NoteSignature(name, key_id(name, public), private_key.sign(message))
    return Note(text, [sig]).encode()


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into its text and signature lines, checking only its form.

    FormatError if it is not UTF-8, holds control characters other than newline, has no
    blank line before a block of signature lines, or any line of that block is not
    ``— name base64`` with a valid name and at least 5 bytes, or it has more than
    :data:`MAX_SIGNATURES` signatures.
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("the note is not valid Unicode") from None
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("the note is not UTF-8") from None
    if _CONTROL.search(whole):
        raise FormatError("the note holds control characters other than newline")
    # The text may hold blank lines (the spec allows it); the last one starts the signatures.
    split = whole.rfind("\n\n")
    if split < 0:
        raise FormatError("the note has no blank line before its signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    if not block.endswith("\n"):
        raise FormatError("the note has no signature, or its last line has no newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"the note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, start=1):
        name, sep, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        if not line.startswith(_SIG_PREFIX) or not sep or not _name_ok(name):
            raise FormatError(f"signature line {number} is not '— name signature'")
        try:
            raw = _b64decode(b64)
        except ValueError:
            raise FormatError(f"signature line {number} is not base64") from None
        if len(raw) < 5:
            raise FormatError(f"signature line {number} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return Note(text, signatures)


def verify_note(data: str | bytes, name: str, public_key: bytes) -> str:
    """The text of the note, once a signature by key ``name`` with this 32-byte Ed25519
    public key verifies.

    FormatError if the note is malformed. SignatureError if no signature line has this key's
    name and ID, or if any that does fails to verify (the spec: reject the whole note).
    """
    if len(public_key) != 32:
        raise FormatError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    note = parse_note(data)
    kid = key_id(name, public_key)
    mine = {s for s in note.signatures if s.name == name and s.key_id == kid}
    if not mine:
        raise SignatureError(f"the note has no signature by key {name}+{kid.hex()}")
    key = Ed25519PublicKey.from_public_bytes(public_key)
    message = note.text.encode("utf-8")
    for sig in mine:
        try:
            key.verify(sig.signature, message)
        except InvalidSignature:
            raise SignatureError(f"the signature by key {name}+{kid.hex()} is invalid") from None
    return note.text
