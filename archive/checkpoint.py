"""Checkpoints of the custody log: C2SP tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint).

A checkpoint is a signed note (:mod:`archive.note`) whose text is::

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard padded base64>
    [extension lines, each non-empty]

each line ending in a newline. It commits the log's keeper to the log's first ``size`` lines.

Checking a checkpoint by hand, with OpenSSL 3 (run in the archive folder; NAME is the key
name on the signature line, which is the archive's origin; KEY is the custodian's OpenSSH
public key; prints ``Signature Verified Successfully`` and exits 0 only if the signature
holds)::

    NAME='constancia.example/archive'
    KEY=keys/custodian.pub
    # 1. The signed text: every line before the first blank line.
    sed '/^$/,$d' custody/checkpoint > body.txt
    # 2. The signature: the last 64 bytes of the base64 on the line "— NAME ...".
    awk -v k="$NAME" '$1 == "—" && $2 == k { print $3; exit }' custody/checkpoint \
      | base64 -d | tail -c 64 > sig.bin
    # 3. The public key as PEM: Ed25519's fixed SubjectPublicKeyInfo header, then the
    #    32 key bytes that end the OpenSSH key blob.
    { echo MCowBQYDK2VwAyEA | base64 -d
      awk '{ print $2 }' "$KEY" | base64 -d | tail -c 32; } > key.der
    openssl pkey -pubin -inform DER -in key.der -out key.pem
    # 4. The verdict.
    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in body.txt -sigfile sig.bin

The tree size and root hash are then lines 2 and 3 of ``body.txt``
(``sed -n 3p body.txt | base64 -d | od -An -tx1`` shows the root in hex).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive.note import sign_note, verify_note
from constancia.errors import FormatError

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")  # no leading zeros; at most uint64's 20 digits
_MAX_SIZE = 2**64 - 1
_ROOT_SIZE = 32


@dataclass(frozen=True)
class Checkpoint:
    """A log's origin, tree size and root hash (32 raw bytes), and any extension lines.

    Construction checks the fields and raises FormatError for an empty origin, a negative
    size, a root that is not 32 bytes, or an empty extension line; no field may hold a
    newline.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise FormatError("a checkpoint's origin must be one non-empty line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise FormatError(f"a checkpoint's tree size must be 0 to 2^64-1, not {self.size}")
        if len(self.root) != _ROOT_SIZE:
            raise FormatError(f"a checkpoint's root hash has 32 bytes, not {len(self.root)}")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise FormatError("a checkpoint's extension lines must be non-empty lines")

    def body(self) -> str:
        """The note text: origin, size, root, extensions, each line ending in newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "".join(line + "\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """The checkpoint whose note text is ``body``; FormatError unless ``body`` is
        exactly what :meth:`body` would write for it."""
        if not body.endswith("\n"):
            raise FormatError("a checkpoint's text must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("a checkpoint needs origin, tree size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise FormatError(f"{size_text!r} is not a tree size (decimal, no leading zeros)")
        try:
            root = base64.b64decode(root_text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise FormatError("the checkpoint's root hash is not base64") from None
        cp = cls(origin, int(size_text), root, tuple(extensions))
        if cp.body() != body:  # e.g. non-canonical base64 of the root
            raise FormatError("the checkpoint's text is not in canonical form")
        return cp


def sign_checkpoint(cp: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note of ``cp`` under key name ``name`` (by convention, the origin)."""
    return sign_note(cp.body(), name, private_key)


def open_checkpoint(data: bytes | str, name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint in a signed note, once a signature by key ``name`` with this Ed25519
    public key verifies. SignatureError if it does not; FormatError if the note or the
    checkpoint is malformed. The caller compares the origin with the one it expects."""
    return Checkpoint.parse(verify_note(data, name, public_key))
