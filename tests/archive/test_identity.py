"""Signing identities, checked with ssh-keygen and openssl."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive import identity as ident
from archive import sshsig
from constancia.errors import FormatError, IdentityError

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")

NAME = "Ana Pérez"
PASS = "contraseña larga"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONSTANCIA_KDF_ROUNDS", "1")
    monkeypatch.setenv("CONSTANCIA_HOME", str(tmp_path / "home"))


def run(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    cmd = [str(a) for a in args]
    return subprocess.run(cmd, input=stdin.decode(), capture_output=True, text=True, check=False)


def kdf_header(key_file: Path) -> tuple[bytes, bytes, int]:
    """(cipher, kdf, rounds) read from an OpenSSH private key file's clear header."""
    lines = key_file.read_text().splitlines()
    data = base64.b64decode("".join(lines[1:-1]))
    assert data.startswith(b"openssh-key-v1\0")
    pos, fields = len(b"openssh-key-v1\0"), []
    for _ in range(3):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        fields.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    cipher, kdf, options = fields
    (salt_len,) = struct.unpack(">I", options[:4])
    (rounds,) = struct.unpack(">I", options[4 + salt_len :])
    return cipher, kdf, rounds


def test_create_then_load_round_trips_a_unicode_name() -> None:
    made = ident.create_identity(NAME, PASS)
    home = ident.home()
    assert ident.load_identity() == made
    assert json.loads((home / "identity.json").read_text("utf-8"))["name"] == NAME
    assert (home / "identity.pub").read_text("utf-8") == made.public_line + "\n"
    assert made.public_line.endswith(" Ana Pérez")
    assert ident.unlock(PASS).identity == made


def test_file_modes() -> None:
    ident.create_identity(NAME, PASS)
    home = ident.home()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "identity.key").stat().st_mode) == 0o600


def test_ssh_keygen_reads_our_encrypted_key_and_fingerprint() -> None:
    made = ident.create_identity(NAME, PASS)
    home = ident.home()
    derived = run("ssh-keygen", "-y", "-P", PASS, "-f", home / "identity.key")
    assert derived.returncode == 0, derived.stderr
    assert derived.stdout.split()[:2] == made.public_line.split()[:2]
    assert run("ssh-keygen", "-y", "-P", "wrong", "-f", home / "identity.key").returncode != 0
    listed = run("ssh-keygen", "-l", "-f", home / "identity.pub")
    assert listed.stdout.split()[1] == made.fingerprint
    assert NAME in listed.stdout


def test_default_kdf_rounds_are_16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSTANCIA_KDF_ROUNDS")
    ident.create_identity(NAME, PASS)
    assert kdf_header(ident.home() / "identity.key") == (b"aes256-ctr", b"bcrypt", 16)


def test_wrong_passphrase_names_the_person() -> None:
    ident.create_identity(NAME, PASS)
    with pytest.raises(IdentityError, match="does not unlock the key of Ana Pérez") as err:
        ident.unlock("Contraseña larga")
    assert err.value.hint
    with pytest.raises(IdentityError, match="does not unlock"):
        ident.unlock("")


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],
        lambda b: b"",
        lambda b: b"\x00\xff garbage",
        lambda b: b.replace(b"AAAA", b"AAAB", 1),  # the clear header's lengths
        lambda b: b.replace(b"-----END OPENSSH PRIVATE KEY-----", b""),
    ],
)
def test_damaged_key_file_is_an_identity_error(damage: object) -> None:
    ident.create_identity(NAME, PASS)
    key = ident.home() / "identity.key"
    assert callable(damage)
    key.write_bytes(damage(key.read_bytes()))
    with pytest.raises(IdentityError):
        ident.unlock(PASS)


def test_never_overwrites_a_key() -> None:
    ident.create_identity(NAME, PASS)
    key = ident.home() / "identity.key"
    before = key.read_bytes()
    with pytest.raises(IdentityError, match="already exists"):
        ident.create_identity("Otra Persona", "x")
    assert key.read_bytes() == before
    assert ident.load_identity().name == NAME


@pytest.mark.parametrize(
    ("name", "passphrase"),
    [("", PASS), ("  ", PASS), (NAME, ""), ("a\nb", PASS), ("a\u202eb", PASS)],
)
def test_refuses_empty_name_or_passphrase(name: str, passphrase: str) -> None:
    with pytest.raises(IdentityError):
        ident.create_identity(name, passphrase)
    assert not (ident.home() / "identity.key").exists()


def test_no_identity_yet_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="constancia identity create --name NAME"):
        ident.load_identity(tmp_path / "elsewhere")
    with pytest.raises(IdentityError, match="no identity yet"):
        ident.unlock(PASS)


def test_home_defaults_to_dot_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CONSTANCIA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ident.home() == tmp_path / ".config" / "constancia"


def test_signer_signatures_verify_with_ssh_keygen_and_openssl(tmp_path: Path) -> None:
    made = ident.create_identity(NAME, PASS)
    signer = ident.unlock(PASS)
    (tmp_path / "allowed").write_text(made.allowed_signers_line + "\n")
    (tmp_path / "m.sig").write_text(signer.sign_sshsig(b"acta", "constancia"))
    args: list[str | Path] = [
        "-f",
        tmp_path / "allowed",
        "-I",
        made.key_file_stem,
        "-n",
        "constancia",
    ]
    ok = run("ssh-keygen", "-Y", "verify", *args, "-s", tmp_path / "m.sig", stdin=b"acta")
    assert ok.returncode == 0, ok.stderr
    assert sshsig.verify(b"acta", signer.sign_sshsig_blob(b"acta", "c"), "c") == made.public_key
    (tmp_path / "pub.pem").write_bytes(made.public_pem)
    (tmp_path / "msg").write_bytes(b"acta")
    (tmp_path / "raw.sig").write_bytes(signer.sign_raw(b"acta"))
    pem_args: list[str | Path] = [
        "-pubin",
        "-inkey",
        tmp_path / "pub.pem",
        "-rawin",
        "-in",
        tmp_path / "msg",
    ]
    checked = run("openssl", "pkeyutl", "-verify", *pem_args, "-sigfile", tmp_path / "raw.sig")
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Ana Pérez", "ana-perez"),
        ("Jürgen Groß", "jurgen-gross"),
        ("李明", "key"),
        ("O'Brien", "o-brien"),
    ],
)
def test_key_file_stem_is_a_safe_slug(name: str, slug: str) -> None:
    stem = ident.Identity(name, bytes(range(32))).key_file_stem
    assert re.fullmatch(re.escape(slug) + r"-[A-Za-z0-9_-]{8}", stem)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== short",
        "ssh-ed25519 not-base64!",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x\nssh-ed25519 AAAA y",
    ],
)
def test_parse_public_line_refuses_other_lines(line: str) -> None:
    with pytest.raises(FormatError):
        ident.parse_public_line(line)


_WORD = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1)


@given(st.lists(_WORD, min_size=1, max_size=4).map(" ".join), st.binary(min_size=32, max_size=32))
def test_public_line_round_trips(name: str, key: bytes) -> None:
    made = ident.Identity(name, key)
    assert ident.identity_from_public_line(made.public_line + "\n") == made


@given(st.text(max_size=200))
def test_parse_public_line_raises_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        ident.parse_public_line("ssh-ed25519 " + text)
