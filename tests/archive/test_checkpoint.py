"""C2SP tlog-checkpoints: format, signatures, and OpenSSL's verdict on what we sign."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from archive import checkpoint as checkpoint_module
from archive.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from archive.note import NoteSignature
from constancia.errors import FormatError, SignatureError

ORIGIN = "constancia.example/archive"  # the NAME the module docstring's recipe uses
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
ROOT = bytes(range(32))
CP = Checkpoint(ORIGIN, 1234, ROOT)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not found")


def test_body_matches_the_specs_example() -> None:
    # The example at the top of c2sp.org/tlog-checkpoint.
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.parse(body)
    assert (cp.origin, cp.size, cp.root[:2].hex()) == (
        "example.com/behind-the-sofa",
        20852163,
        "0ac5",
    )
    assert cp.body() == body


def test_signed_checkpoint_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "ext two"))
    note = sign_checkpoint(cp, ORIGIN, KEY)
    assert note.startswith(cp.body() + "\n— " + ORIGIN + " ")
    assert open_checkpoint(note, ORIGIN, PUB) == cp
    assert open_checkpoint(note.encode("utf-8"), ORIGIN, PUB) == cp


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n1234\n", "\n1235\n"),
        (base64.b64encode(ROOT).decode()[:8], "AAAAAAAA"),
        (ORIGIN, "x.example/y"),
    ],
)
def test_tampering_fails(old: str, new: str) -> None:
    note = sign_checkpoint(CP, ORIGIN, KEY)
    head, sep, sigs = note.partition("\n\n")
    assert old in head
    with pytest.raises(SignatureError):
        open_checkpoint(head.replace(old, new, 1) + sep + sigs, ORIGIN, PUB)


def test_wrong_key_fails() -> None:
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(SignatureError):
        open_checkpoint(sign_checkpoint(CP, ORIGIN, KEY), ORIGIN, other)


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"\n1\n{ROOT64}\n",  # empty origin
        f"o\n01\n{ROOT64}\n",  # leading zero
        f"o\n-1\n{ROOT64}\n",
        f"o\n+1\n{ROOT64}\n",
        f"o\n 1\n{ROOT64}\n",
        f"o\n1.0\n{ROOT64}\n",
        f"o\n18446744073709551616\n{ROOT64}\n",  # 2^64
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n1\n{ROOT64[:-1]}\n",
        f"o\n1\n{ROOT64[:-2]}9=\n",  # padding bits set: non-canonical base64
        f"o\n1\n{ROOT64}\n\n",  # empty extension line
        f"o\n1\n{ROOT64}",  # no final newline
        "o\n1\n",
        "",
    ],
)
def test_malformed_bodies_are_format_errors(body: str) -> None:
    with pytest.raises(FormatError):
        Checkpoint.parse(body)


def test_constructor_checks_fields() -> None:
    for args in [("", 1, ROOT), ("o", -1, ROOT), ("o", 1, ROOT[:31]), ("a\nb", 1, ROOT)]:
        with pytest.raises(FormatError):
            Checkpoint(*args)
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT, ("",))


@given(
    st.text(st.characters(min_codepoint=0x20, codec="utf-8"), min_size=1),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
def test_parse_inverts_body(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert Checkpoint.parse(cp.body()) == cp


@given(st.text())
def test_parse_raises_only_format_errors(body: str) -> None:
    with contextlib.suppress(FormatError):
        Checkpoint.parse(body)


def _openssl_verify(tmp_path: Path, body: bytes, sig: bytes) -> subprocess.CompletedProcess[str]:
    pem = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "key.pem").write_bytes(pem)
    (tmp_path / "body.txt").write_bytes(body)
    (tmp_path / "sig.bin").write_bytes(sig)
    cmd = "openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in body.txt -sigfile sig.bin"
    return subprocess.run(cmd.split(), cwd=tmp_path, capture_output=True, text=True, check=False)


@needs_openssl
def test_openssl_accepts_our_checkpoint_and_rejects_a_tampered_body(tmp_path: Path) -> None:
    note = sign_checkpoint(CP, ORIGIN, KEY)
    body, _, sig_line = note.partition("\n\n")
    sig = base64.b64decode(sig_line.split()[2])[-64:]
    good = _openssl_verify(tmp_path, (body + "\n").encode(), sig)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Signature Verified Successfully" in good.stdout
    bad = _openssl_verify(tmp_path, (body.replace("1234", "1235") + "\n").encode(), sig)
    assert bad.returncode != 0


def _recipe() -> str:
    """The indented shell block after '::' in archive/checkpoint.py's docstring."""
    doc = checkpoint_module.__doc__ or ""
    after = doc.split("holds)::\n\n", 1)[1]
    block = []
    for line in after.splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


@needs_openssl
@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_the_auditors_recipe_in_the_docstring_works(tmp_path: Path, shell: str) -> None:
    recipe = _recipe()
    assert recipe.startswith(f"NAME='{ORIGIN}'\nKEY=keys/custodian.pub\n")
    (tmp_path / "custody").mkdir()
    (tmp_path / "keys").mkdir()
    openssh = KEY.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    (tmp_path / "keys" / "custodian.pub").write_bytes(openssh + b" custodian@example\n")
    # A witness's signature line first, so the recipe must pick the custodian's.
    witness = NoteSignature("witness.example", b"\x00\x01\x02\x03", b"\x07" * 64).line()
    note = sign_checkpoint(CP, ORIGIN, KEY).replace("\n\n", "\n\n" + witness)
    checkpoint = tmp_path / "custody" / "checkpoint"
    checkpoint.write_text(note, encoding="utf-8")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shell, "-c", recipe], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    good = run()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Signature Verified Successfully" in good.stdout
    assert (tmp_path / "body.txt").read_text(encoding="utf-8") == CP.body()
    checkpoint.write_text(note.replace("\n1234\n", "\n1235\n"), encoding="utf-8")
    assert run().returncode != 0
