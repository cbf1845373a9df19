"""A person's signing identity: an Ed25519 key kept outside any archive, in the config folder.

The folder (:func:`home`: ``$CONSTANCIA_HOME``, else ``~/.config/constancia``, mode 0700) holds

- ``identity.key``  the private key in OpenSSH's format, encrypted with the passphrase
  (bcrypt KDF, ``$CONSTANCIA_KDF_ROUNDS`` rounds, default 16; mode 0600), so ``ssh-keygen``
  can use it too;
- ``identity.pub``  the OpenSSH public line ``ssh-ed25519 AAAA... NAME``;
- ``identity.json`` ``{"name": ..., "created": ISO-8601 UTC}``.

``identity.key`` is written last and never replaced: its presence marks a complete identity.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PrivateFormat,
    PublicFormat,
    load_ssh_private_key,
)

from archive import sshsig
from archive.fsutil import fsync_dir, temp_name, write_atomic, write_file
from constancia.errors import FormatError, IdentityError

KEY_FILE = "identity.key"
PUBLIC_FILE = "identity.pub"
META_FILE = "identity.json"
DEFAULT_KDF_ROUNDS = 16

_CREATE_HINT = "create one with `constancia identity create --name NAME`"
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Letters that Unicode does not decompose into ASCII but that have a usual spelling in it.
_TRANSLITERATE = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)


@dataclass(frozen=True)
class Identity:
    """The public part of a signing identity: a person's name and raw 32-byte Ed25519 key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")

    @property
    def key_blob(self) -> bytes:
        """The SSH wire encoding of the key."""
        return sshsig.public_key_blob(self.public_key)

    @property
    def public_line(self) -> str:
        """The OpenSSH public key line ``ssh-ed25519 AAAA... NAME``."""
        b64 = base64.b64encode(self.key_blob).decode("ascii")
        return f"{sshsig.KEY_TYPE} {b64} {self.name}" if self.name else f"{sshsig.KEY_TYPE} {b64}"

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` exactly as ``ssh-keygen -l`` prints it."""
        digest = hashlib.sha256(self.key_blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    @property
    def key_file_stem(self) -> str:
        """A filesystem-safe ASCII name for this key, e.g. ``ana-perez-a1B2c3D4``.

        A lowercase slug of the name, then the first 8 characters of the fingerprint (``+`` and
        ``/`` made ``-`` and ``_``), so two people with one name still get two files.
        """
        fp = self.fingerprint.removeprefix("SHA256:")[:8].replace("+", "-").replace("/", "_")
        return f"{_slug(self.name)}-{fp}"

    @property
    def allowed_signers_line(self) -> str:
        """A line for ssh-keygen's allowed_signers file; the principal is :attr:`key_file_stem`."""
        b64 = base64.b64encode(self.key_blob).decode("ascii")
        return f"{self.key_file_stem} {sshsig.KEY_TYPE} {b64}"

    @property
    def public_pem(self) -> bytes:
        """The key as a SubjectPublicKeyInfo PEM (for ``openssl pkeyutl``)."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


class Signer:
    """An unlocked identity: signs with the private key. Obtain one from :func:`unlock`."""

    def __init__(self, identity: Identity, private_key: Ed25519PrivateKey) -> None:
        if sshsig.raw_public_key(private_key) != identity.public_key:
            raise ValueError("the private key does not belong to this identity")
        self._identity = identity
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"Signer({self._identity.name!r}, {self._identity.fingerprint})"

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._private_key

    def sign_sshsig(self, message: bytes, namespace: str) -> str:
        """An armored SSHSIG signature of ``message`` (what ``ssh-keygen -Y sign`` writes)."""
        return sshsig.sign(message, self._private_key, namespace)

    def sign_sshsig_blob(self, message: bytes, namespace: str) -> bytes:
        """The binary SSHSIG blob signing ``message``."""
        return sshsig.sign_blob(message, self._private_key, namespace)

    def sign_sshsig_digest(self, sha512_digest: bytes, namespace: str) -> str:
        """Like :meth:`sign_sshsig`, given the message's SHA-512 digest."""
        return sshsig.sign_digest(sha512_digest, self._private_key, namespace)

    def sign_sshsig_digest_blob(self, sha512_digest: bytes, namespace: str) -> bytes:
        """Like :meth:`sign_sshsig_blob`, given the message's SHA-512 digest."""
        return sshsig.sign_digest_blob(sha512_digest, self._private_key, namespace)

    def sign_raw(self, message: bytes) -> bytes:
        """A plain 64-byte Ed25519 signature of ``message`` (RFC 8032)."""
        return self._private_key.sign(message)


def home() -> Path:
    """The config folder: ``$CONSTANCIA_HOME`` if set, else ``~/.config/constancia``."""
    env = os.environ.get("CONSTANCIA_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".config" / "constancia"


def create_identity(name: str, passphrase: str, home: Path | None = None) -> Identity:
    """Make a new key for ``name`` and store it, encrypted with ``passphrase``.

    The name is kept as given (trimmed, Unicode NFC). Refuses, with :class:`IdentityError`, an
    empty name or passphrase, and a folder that already has a key: a key is never overwritten.
    """
    folder = _folder(home)
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise IdentityError("the name is empty", hint="give your name with --name NAME")
    # Line breaks would split the .pub line; bidi overrides could make a name display as
    # another. Other format characters (ZWNJ in Persian names) are legitimate.
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS for c in name):
        raise IdentityError("the name contains control characters or line breaks")
    if not passphrase:
        raise IdentityError(
            "the passphrase is empty", hint="choose a passphrase to protect the key"
        )
    key_path = folder / KEY_FILE
    if key_path.exists():
        raise IdentityError(
            "an identity already exists here; a key is never overwritten",
            path=key_path,
            hint="use the existing identity, or set CONSTANCIA_HOME to another folder",
        )
    rounds = _kdf_rounds()
    private_key = Ed25519PrivateKey.generate()
    identity = Identity(name, sshsig.raw_public_key(private_key))
    encryption = (
        PrivateFormat.OpenSSH.encryption_builder()
        .kdf_rounds(rounds)
        .build(passphrase.encode("utf-8"))
    )
    key_bytes = private_key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, encryption)
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    meta = json.dumps({"name": name, "created": created}, ensure_ascii=False, indent=2) + "\n"
    try:
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        # A crash before the key lands leaves only public files, which the next attempt replaces.
        write_atomic(folder / META_FILE, meta.encode("utf-8"))
        write_atomic(folder / PUBLIC_FILE, (identity.public_line + "\n").encode("utf-8"))
        _write_new_key(key_path, key_bytes)
    except OSError as exc:
        raise IdentityError(
            f"could not write the identity files ({exc.strerror or exc})", path=folder
        ) from exc
    return identity


def load_identity(home: Path | None = None) -> Identity:
    """The public part of the identity in ``home``; no passphrase needed."""
    folder = _folder(home)
    if not (folder / KEY_FILE).exists():
        raise IdentityError(f"no identity yet; {_CREATE_HINT}", path=folder)
    try:
        line = (folder / PUBLIC_FILE).read_text(encoding="utf-8")
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IdentityError(
            f"the identity files cannot be read ({exc})",
            path=folder,
            hint=f"restore {PUBLIC_FILE} and {META_FILE} from your backup",
        ) from None
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise IdentityError("the identity has no name", path=folder / META_FILE)
    try:
        public_key, _comment = parse_public_line(line)
    except FormatError as exc:
        raise IdentityError(exc.message, path=folder / PUBLIC_FILE) from None
    return Identity(name, public_key)


def unlock(passphrase: str, home: Path | None = None) -> Signer:
    """Decrypt the private key with ``passphrase``; :class:`IdentityError` if it does not."""
    folder = _folder(home)
    identity = load_identity(folder)
    key_path = folder / KEY_FILE
    wrong = IdentityError(
        f"the passphrase does not unlock the key of {identity.name}",
        path=key_path,
        hint="type the passphrase again, minding upper case and accents",
    )
    if not passphrase:
        raise wrong
    damaged = IdentityError(
        "the key file is damaged", path=key_path, hint=f"restore {KEY_FILE} from your backup"
    )
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise IdentityError(
            f"the key file cannot be read ({exc.strerror})", path=key_path
        ) from None
    try:
        key = load_ssh_private_key(data, passphrase.encode("utf-8"))
    except InvalidTag:
        raise wrong from None
    except ValueError as exc:
        # After decryption a wrong passphrase shows only as OpenSSH's two check integers
        # disagreeing; every other complaint is about the file itself.
        raise (wrong if "checksum" in str(exc) else damaged) from None
    except (TypeError, UnsupportedAlgorithm, IndexError, binascii.Error):
        raise damaged from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError("the key file does not hold an Ed25519 key", path=key_path)
    if sshsig.raw_public_key(key) != identity.public_key:
        raise IdentityError(
            f"{PUBLIC_FILE} does not match {KEY_FILE}",
            path=folder,
            hint="restore the identity folder from your backup",
        )
    return Signer(identity, key)


def parse_public_line(line: str) -> tuple[bytes, str]:
    """The raw 32-byte key and the comment of an OpenSSH ``ssh-ed25519`` public key line.

    Raises :class:`FormatError` for anything else (other key types, damaged base64, options).
    """
    line = line.strip()
    if any(c in line for c in "\n\r\0"):
        raise FormatError("a public key line must be a single line")
    parts = line.split(None, 2)
    if len(parts) < 2 or parts[0] != sshsig.KEY_TYPE:
        raise FormatError("not an OpenSSH ssh-ed25519 public key line")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        public_key = sshsig.parse_public_key_blob(blob)
    except ValueError:
        raise FormatError("the public key in the ssh-ed25519 line is damaged") from None
    return public_key, parts[2] if len(parts) == 3 else ""


def identity_from_public_line(line: str) -> Identity:
    """The :class:`Identity` of a ``.pub`` line whose comment is the person's name."""
    public_key, name = parse_public_line(line)
    if not name:
        raise FormatError("the public key line has no name after the key")
    return Identity(name, public_key)


def _folder(home_dir: Path | None) -> Path:
    return home_dir if home_dir is not None else home()


def _kdf_rounds() -> int:
    raw = os.environ.get("CONSTANCIA_KDF_ROUNDS", str(DEFAULT_KDF_ROUNDS))
    try:
        rounds = int(raw)
    except ValueError:
        rounds = 0
    if rounds < 1:
        raise IdentityError("CONSTANCIA_KDF_ROUNDS must be a positive whole number")
    return rounds


def _write_new_key(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` whole (crash-safe) and never over an existing file."""
    tmp = temp_name(path)
    try:
        write_file(tmp, data, mode=0o600)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if path exists, unlike a rename
        except FileExistsError:
            raise IdentityError(
                "an identity already exists here; a key is never overwritten", path=path
            ) from None
        except OSError:
            # Some file systems (FAT on USB sticks) have no hard links.
            if path.exists():
                raise
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.lower().translate(_TRANSLITERATE))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:40].rstrip("-") or "key"
