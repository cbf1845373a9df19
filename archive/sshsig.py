"""OpenSSH detached signatures (SSHSIG), Ed25519 keys and SHA-512 only.

The format is OpenSSH's ``PROTOCOL.sshsig``; what :func:`sign` writes is byte for byte what
``ssh-keygen -Y sign`` writes for the same key, namespace and message (Ed25519 is
deterministic), so an auditor checks our signatures with::

    ssh-keygen -Y verify -f allowed_signers -I PRINCIPAL -n NAMESPACE -s FILE.sig < FILE

:func:`verify` and :func:`verify_digest` accept the armored text or the raw binary blob and
return the raw 32-byte public key that made the signature; the caller must still check that key
is one it trusts. Anything wrong raises :class:`~constancia.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from constancia.errors import SignatureError

MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALGORITHM = "sha512"
KEY_TYPE = "ssh-ed25519"
BEGIN = "-----BEGIN SSH SIGNATURE-----\n"
END = "-----END SSH SIGNATURE-----"
#: ssh-keygen wraps the base64 body at 70 columns (sshbuf_dtob64), not the 76 the spec suggests.
WRAP = 70

_KEY_TYPE = KEY_TYPE.encode("ascii")
_HASH_ALGORITHM = HASH_ALGORITHM.encode("ascii")
_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_DIGEST_SIZE = 64


class _Malformed(ValueError):
    """Internal: the bytes do not follow the SSH wire format."""


class _Reader:
    """Reads RFC 4253 wire-format fields, refusing anything that runs past the end."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n > len(self._data) - self._pos:
            raise _Malformed("truncated")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u32())

    def end(self) -> None:
        if self._pos != len(self._data):
            raise _Malformed("trailing data")


def ssh_string(data: bytes) -> bytes:
    """``data`` as an SSH wire ``string``: a big-endian uint32 length, then the bytes."""
    return struct.pack(">I", len(data)) + data


def public_key_blob(public_key: bytes) -> bytes:
    """The SSH wire encoding of a raw 32-byte Ed25519 public key (what ``.pub`` lines carry)."""
    if len(public_key) != _PUBLIC_KEY_SIZE:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return ssh_string(_KEY_TYPE) + ssh_string(public_key)


def parse_public_key_blob(blob: bytes) -> bytes:
    """The raw 32-byte key inside an SSH wire-format ``ssh-ed25519`` key blob.

    Raises ``ValueError`` if the blob is anything else.
    """
    return _ed25519_field(blob, _PUBLIC_KEY_SIZE, "public key")


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public half of ``private_key``."""
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_blob(message: bytes, private_key: Ed25519PrivateKey, namespace: str) -> bytes:
    """The binary SSHSIG blob signing ``message`` (for embedding, e.g. base64 in JSON)."""
    return sign_digest_blob(hashlib.sha512(message).digest(), private_key, namespace)


def sign_digest_blob(sha512_digest: bytes, private_key: Ed25519PrivateKey, namespace: str) -> bytes:
    """Like :func:`sign_blob`, for a caller that already has the message's SHA-512 digest."""
    if len(sha512_digest) != _DIGEST_SIZE:
        raise ValueError("a SHA-512 digest is 64 bytes")
    ns = _namespace_bytes(namespace)
    signature = private_key.sign(_signed_data(ns, sha512_digest))
    return b"".join(
        [
            MAGIC,
            struct.pack(">I", VERSION),
            ssh_string(public_key_blob(raw_public_key(private_key))),
            ssh_string(ns),
            ssh_string(b""),  # reserved
            ssh_string(_HASH_ALGORITHM),
            ssh_string(ssh_string(_KEY_TYPE) + ssh_string(signature)),
        ]
    )


def sign(message: bytes, private_key: Ed25519PrivateKey, namespace: str) -> str:
    """The armored signature of ``message``, exactly as ``ssh-keygen -Y sign`` writes it."""
    return armor(sign_blob(message, private_key, namespace))


def sign_digest(sha512_digest: bytes, private_key: Ed25519PrivateKey, namespace: str) -> str:
    """Like :func:`sign`, for a caller that hashed a large file while streaming it."""
    return armor(sign_digest_blob(sha512_digest, private_key, namespace))


def armor(blob: bytes) -> str:
    """Wrap a binary SSHSIG blob in the ``BEGIN/END SSH SIGNATURE`` text form."""
    body = base64.b64encode(blob).decode("ascii")
    lines = [body[i : i + WRAP] for i in range(0, len(body), WRAP)]
    return BEGIN + "\n".join(lines) + "\n" + END + "\n"


def dearmor(text: str) -> bytes:
    """The binary blob inside an armored signature; :class:`SignatureError` if malformed.

    Stricter than ssh-keygen: nothing may follow the footer but one line ending, so a
    signature file cannot carry hidden extra bytes.
    """
    text = text.replace("\r\n", "\n")
    if not text.startswith(BEGIN):
        raise SignatureError("the signature does not start with '-----BEGIN SSH SIGNATURE-----'")
    if text.endswith("\n"):
        text = text[:-1]
    if not text.endswith("\n" + END):
        raise SignatureError("the signature does not end with '-----END SSH SIGNATURE-----'")
    body = text[len(BEGIN) : -len(END) - 1].replace("\n", "")
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature's base64 text is damaged") from None
    if not blob:
        raise SignatureError("the signature is empty")
    return blob


def verify(message: bytes, signature: str | bytes, namespace: str) -> bytes:
    """Check ``signature`` (armored text or binary blob) over ``message`` in ``namespace``.

    Returns the raw 32-byte public key that made it; the caller must check that this key is
    one it trusts. Raises :class:`SignatureError` for anything wrong.
    """
    return verify_digest(hashlib.sha512(message).digest(), signature, namespace)


def verify_digest(sha512_digest: bytes, signature: str | bytes, namespace: str) -> bytes:
    """Like :func:`verify`, given the SHA-512 digest of the message instead of the message."""
    if len(sha512_digest) != _DIGEST_SIZE:
        raise SignatureError("the message digest to check is not a SHA-512 digest")
    expected_ns = _namespace_bytes(namespace)
    blob = _to_blob(signature)
    try:
        public_key, ns, hash_algorithm, sig = _parse_blob(blob, expected_ns)
    except _Malformed as exc:
        raise SignatureError(f"the signature is malformed ({exc})") from None
    if ns != expected_ns:
        raise SignatureError(
            f"the signature was made for namespace {ns.decode('utf-8', 'replace')!r},"
            f" not {namespace!r}"
        )
    if hash_algorithm != _HASH_ALGORITHM:
        raise SignatureError(
            f"the signature uses hash {hash_algorithm.decode('utf-8', 'replace')!r},"
            f" only {HASH_ALGORITHM!r} is accepted"
        )
    if not ed25519_verify(public_key, _signed_data(ns, sha512_digest), sig):
        raise SignatureError("the signature does not match the signed bytes")
    return public_key


def _namespace_bytes(namespace: str) -> bytes:
    # The spec forbids an empty namespace; ssh reads it as a C string, so no NUL either.
    if not namespace or "\0" in namespace:
        raise ValueError("a signature namespace must be non-empty text without NUL")
    return namespace.encode("utf-8")


def _signed_data(namespace: bytes, sha512_digest: bytes) -> bytes:
    return b"".join(
        [
            MAGIC,
            ssh_string(namespace),
            ssh_string(b""),  # reserved
            ssh_string(_HASH_ALGORITHM),
            ssh_string(sha512_digest),
        ]
    )


def _to_blob(signature: str | bytes) -> bytes:
    if isinstance(signature, str):
        return dearmor(signature)
    if signature.startswith(MAGIC):
        return bytes(signature)
    try:
        text = signature.decode("ascii")
    except UnicodeDecodeError:
        raise SignatureError("the signature is neither SSHSIG binary nor armored text") from None
    return dearmor(text)


def _layout(namespace: bytes) -> tuple[bytes, bytes, int]:
    """The fixed bytes of an Ed25519 SHA-512 SSHSIG blob in ``namespace``: what comes before
    the 32 key bytes, what lies between them and the 64 signature bytes, and the length."""
    head = MAGIC + struct.pack(">I", VERSION) + struct.pack(">I", 51) + ssh_string(_KEY_TYPE)
    head += struct.pack(">I", _PUBLIC_KEY_SIZE)
    middle = ssh_string(namespace) + ssh_string(b"") + ssh_string(_HASH_ALGORITHM)
    middle += struct.pack(">I", 83) + ssh_string(_KEY_TYPE) + struct.pack(">I", _SIGNATURE_SIZE)
    return head, middle, len(head) + _PUBLIC_KEY_SIZE + len(middle) + _SIGNATURE_SIZE


_LAYOUTS: dict[bytes, tuple[bytes, bytes, int]] = {}


def _parse_blob(blob: bytes, namespace: bytes = b"") -> tuple[bytes, bytes, bytes, bytes]:
    """(public key, namespace, hash algorithm, raw signature) of a binary SSHSIG blob.

    A blob made as this module makes them, in the ``namespace`` expected, has one possible
    layout: compared whole, it is read without walking the fields (verify reads tens of
    thousands). Anything else is walked field by field, to say what is wrong."""
    if namespace:
        layout = _LAYOUTS.get(namespace)
        if layout is None:
            layout = _LAYOUTS[namespace] = _layout(namespace)
        head, middle, size = layout
        key_end = len(head) + _PUBLIC_KEY_SIZE
        if (
            len(blob) == size
            and blob.startswith(head)
            and blob[key_end : key_end + len(middle)] == middle
        ):
            return blob[len(head) : key_end], namespace, _HASH_ALGORITHM, blob[size - 64 :]
    r = _Reader(blob)
    if r.take(len(MAGIC)) != MAGIC:
        raise _Malformed("not an SSHSIG blob")
    if r.u32() != VERSION:
        raise _Malformed(f"only version {VERSION} is supported")
    public_key = parse_public_key_blob(r.string())
    namespace = r.string()
    if not namespace or b"\0" in namespace:
        raise _Malformed("invalid namespace")
    # The spec says to ignore a non-empty reserved field; we refuse it instead, because it is
    # not covered by the signature and so could be altered without detection.
    if r.string() != b"":
        raise _Malformed("the reserved field is not empty")
    hash_algorithm = r.string()
    sig = _ed25519_field(r.string(), _SIGNATURE_SIZE, "signature")
    r.end()
    return public_key, namespace, hash_algorithm, sig


def _ed25519_field(blob: bytes, size: int, what: str) -> bytes:
    """The payload of ``string "ssh-ed25519" || string payload`` (a key or a signature)."""
    r = _Reader(blob)
    if r.string() != _KEY_TYPE:
        raise _Malformed(f"the {what} is not {KEY_TYPE}")
    payload = r.string()
    if len(payload) != size:
        raise _Malformed(f"the {what} is not {size} bytes")
    r.end()
    return payload


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Plain Ed25519 (RFC 8032): does ``signature`` sign ``message`` under ``public_key``?

    libsodium (through PyNaCl) does the check: twice as fast as the OpenSSL build inside
    pyca/cryptography (its field arithmetic uses 64-bit limbs), and it lets other threads
    run meanwhile, which matters to `constancia verify`, two signature checks per artefact.
    It is also the stricter of the two: besides what RFC 8032 requires (S below the group
    order, A a valid point), it refuses public keys and R values of small order, which no
    honest signer produces. What it accepts, OpenSSL accepts too (a test checks both
    against the RFC's vectors and altered signatures)."""
    if len(public_key) != _PUBLIC_KEY_SIZE or len(signature) != _SIGNATURE_SIZE:
        return False
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, ValueError):
        return False
    return True
