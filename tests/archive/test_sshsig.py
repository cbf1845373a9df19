"""SSHSIG signatures, checked against OpenSSH's own ssh-keygen."""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from hypothesis import given
from hypothesis import strategies as st

from archive import sshsig
from constancia.errors import SignatureError

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")

# 38..40 bytes make the base64 body exactly 4 lines of 70: the armor's edge case.
NAMESPACES = ["file", "constancia-record@example.org", "n" * 39, "firma-evidencia-ñ"]


def run(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, check=False)


def keygen(tmp_path: Path, kind: str = "ed25519") -> Path:
    key = tmp_path / f"id_{kind}"
    assert run("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "t", "-f", key).returncode == 0
    return key


def ssh_sign(key: Path, message: bytes, namespace: str) -> str:
    msg = key.parent / "message"
    msg.write_bytes(message)
    Path(f"{msg}.sig").unlink(missing_ok=True)
    assert run("ssh-keygen", "-Y", "sign", "-f", key, "-n", namespace, msg).returncode == 0
    return Path(f"{msg}.sig").read_text()


def ssh_verify(tmp_path: Path, key: bytes, message: bytes, sig: str, namespace: str) -> bool:
    blob = base64.b64encode(sshsig.public_key_blob(key)).decode()
    (tmp_path / "allowed_signers").write_text(f"ana ssh-ed25519 {blob}\n")
    (tmp_path / "m.sig").write_text(sig)
    args: list[str | Path] = ["-f", tmp_path / "allowed_signers", "-I", "ana", "-n", namespace]
    result = run("ssh-keygen", "-Y", "verify", *args, "-s", tmp_path / "m.sig", stdin=message)
    return result.returncode == 0


def check_novalidate(tmp_path: Path, message: bytes, sig: str, namespace: str) -> bool:
    (tmp_path / "m.sig").write_text(sig)
    args: list[str | Path] = ["-n", namespace, "-s", tmp_path / "m.sig"]
    return run("ssh-keygen", "-Y", "check-novalidate", *args, stdin=message).returncode == 0


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_ssh_keygen_accepts_ours(tmp_path: Path, namespace: str) -> None:
    key = Ed25519PrivateKey.generate()
    sig = sshsig.sign(b"testimonio 1\n", key, namespace)
    raw = sshsig.raw_public_key(key)
    assert ssh_verify(tmp_path, raw, b"testimonio 1\n", sig, namespace)
    assert check_novalidate(tmp_path, b"testimonio 1\n", sig, namespace)


@pytest.mark.parametrize("message", [b"", b"hola", bytes(range(256)) * 400])
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_ours_is_byte_identical_to_ssh_keygen(
    tmp_path: Path, message: bytes, namespace: str
) -> None:
    keyfile = keygen(tmp_path)
    theirs = ssh_sign(keyfile, message, namespace)
    private = load_ssh_private_key(keyfile.read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    assert sshsig.sign(message, private, namespace) == theirs
    assert sshsig.verify(message, theirs, namespace) == sshsig.raw_public_key(private)


def test_tampered_message_fails_in_both(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = sshsig.raw_public_key(key)
    sig = sshsig.sign(b"original", key, "file")
    with pytest.raises(SignatureError):
        sshsig.verify(b"0riginal", sig, "file")
    assert not ssh_verify(tmp_path, raw, b"0riginal", sig, "file")
    assert not check_novalidate(tmp_path, b"0riginal", sig, "file")


def test_wrong_namespace_fails_in_both(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    sig = sshsig.sign(b"m", key, "file")
    with pytest.raises(SignatureError, match="namespace"):
        sshsig.verify(b"m", sig, "email")
    assert not check_novalidate(tmp_path, b"m", sig, "email")


def test_blob_digest_and_bytes_forms_agree() -> None:
    key = Ed25519PrivateKey.generate()
    digest = hashlib.sha512(b"big file").digest()
    armored = sshsig.sign(b"big file", key, "file")
    assert sshsig.sign_digest(digest, key, "file") == armored
    assert sshsig.dearmor(armored) == sshsig.sign_blob(b"big file", key, "file")
    raw = sshsig.raw_public_key(key)
    assert sshsig.verify(b"big file", sshsig.sign_blob(b"big file", key, "file"), "file") == raw
    assert sshsig.verify(b"big file", armored.encode(), "file") == raw
    assert sshsig.verify(b"big file", armored.replace("\n", "\r\n"), "file") == raw
    assert sshsig.verify_digest(digest, armored, "file") == raw


def test_ecdsa_signature_from_ssh_keygen_is_refused(tmp_path: Path) -> None:
    sig = ssh_sign(keygen(tmp_path, "ecdsa"), b"m", "file")
    assert check_novalidate(tmp_path, b"m", sig, "file")
    with pytest.raises(SignatureError, match="ssh-ed25519"):
        sshsig.verify(b"m", sig, "file")


def _resigned(blob: bytes, key: Ed25519PrivateKey) -> bytes:
    """``blob`` with a valid signature by ``key`` put back at its end."""
    digest = hashlib.sha512(b"m").digest()
    signed = b"SSHSIG" + b"".join(sshsig.ssh_string(x) for x in (b"file", b"", b"sha512", digest))
    inner = sshsig.ssh_string(b"ssh-ed25519") + sshsig.ssh_string(key.sign(signed))
    return blob + sshsig.ssh_string(inner)


@pytest.mark.parametrize(
    ("version", "reserved", "match"), [(2, b"", "version"), (1, b"x", "reserved")]
)
def test_structural_problems_are_refused(version: int, reserved: bytes, match: str) -> None:
    key = Ed25519PrivateKey.generate()
    fields = (sshsig.public_key_blob(sshsig.raw_public_key(key)), b"file", reserved, b"sha512")
    head = b"SSHSIG" + struct.pack(">I", version)
    blob = _resigned(head + b"".join(sshsig.ssh_string(f) for f in fields), key)
    with pytest.raises(SignatureError, match=match):
        sshsig.verify(b"m", blob, "file")


def test_trailing_garbage_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    blob = sshsig.sign_blob(b"m", key, "file")
    with pytest.raises(SignatureError, match="trailing"):
        sshsig.verify(b"m", blob + b"\0", "file")
    with pytest.raises(SignatureError, match="END"):
        sshsig.verify(b"m", sshsig.armor(blob) + "extra\n", "file")


def test_flipped_signature_bit_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    blob = bytearray(sshsig.sign_blob(b"m", key, "file"))
    blob[-1] ^= 1
    with pytest.raises(SignatureError, match="does not match"):
        sshsig.verify(b"m", bytes(blob), "file")


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_signature_error(data: bytes) -> None:
    with pytest.raises(SignatureError):
        sshsig.verify(b"m", data, "file")


@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_signature_error(text: str) -> None:
    with pytest.raises(SignatureError):
        sshsig.verify(b"m", sshsig.BEGIN + text, "file")


_VALID = sshsig.sign_blob(b"m", Ed25519PrivateKey.from_private_bytes(bytes(32)), "file")


@given(st.integers(0, len(_VALID) - 1), st.integers(1, 255), st.integers(0, len(_VALID) - 1))
def test_damaged_blobs_raise_only_signature_error(pos: int, xor: int, cut: int) -> None:
    damaged = bytearray(_VALID)
    damaged[pos] ^= xor
    with pytest.raises(SignatureError):
        sshsig.verify(b"m", bytes(damaged), "file")
    with pytest.raises(SignatureError):
        sshsig.verify(b"m", sshsig.armor(_VALID[:cut]), "file")


@given(st.integers(0, len(_VALID) - 1), st.integers(1, 255), st.binary(max_size=3))
def test_the_fixed_layout_reading_agrees_with_the_field_by_field_one(
    pos: int, xor: int, extra: bytes
) -> None:
    """verify reads a blob of the one Ed25519 layout without walking its fields: for any
    blob, that shortcut gives what walking the fields gives, or leaves the blob to it."""

    def walked(blob: bytes) -> object:
        try:
            return sshsig._parse_blob(blob)
        except sshsig._Malformed:
            return "malformed"

    def shortcut(blob: bytes) -> object:
        try:
            return sshsig._parse_blob(blob, b"file")
        except sshsig._Malformed:
            return "malformed"

    damaged = bytearray(_VALID)
    damaged[pos] ^= xor
    for blob in (_VALID, bytes(damaged), _VALID + extra, _VALID[: len(_VALID) - len(extra)]):
        assert shortcut(blob) == walked(blob)
