"""C2SP signed notes against the Go reference implementation's published vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from archive.note import (
    Note,
    NoteSignature,
    key_id,
    parse_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
    verify_note,
)
from constancia.errors import FormatError, SignatureError

# Vectors from golang.org/x/mod/sumdb/note, note_test.go (TestNewVerifier, TestNewSigner,
# TestSign, TestOpen).
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01o"
    "OTGwnWLox33WWd1RvMc+QQ=\n"
)
GO_NOTE = TEXT + "\n" + PETER_SIG
PETER_PUB = parse_verifier_key(VKEY)[1]


def go_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Go's private key encoding: PRIVATE+KEY+name+hash+base64(0x01 || 32-byte seed)."""
    private, key, name, _hash, b64 = skey.split("+", 4)
    assert (private, key) == ("PRIVATE", "KEY")
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_signing_reproduces_gos_note_byte_for_byte() -> None:
    name, key = go_signer_key(SKEY)
    assert sign_note(TEXT, name, key).encode("utf-8") == GO_NOTE.encode("utf-8")


def test_gos_note_verifies() -> None:
    assert verify_note(GO_NOTE, "PeterNeumann", PETER_PUB) == TEXT
    assert verify_note(GO_NOTE.encode("utf-8"), "PeterNeumann", PETER_PUB) == TEXT


def test_verifier_key_and_key_id_match_go() -> None:
    name, key = go_signer_key(SKEY)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public == PETER_PUB
    assert key_id(name, public).hex() == "c74f20a3"
    assert verifier_key(name, public) == VKEY
    assert parse_verifier_key(ENOCH_VKEY)[0] == "EnochRoot"


def test_mangled_verifier_keys_are_refused() -> None:
    # Go's TestNewVerifier: every proper substring and every one-byte increment fails.
    bad = [VKEY[i:j] for i in range(len(VKEY)) for j in range(i + 1, len(VKEY) + 1)]
    bad.remove(VKEY)
    bad += [VKEY[:i] + chr(ord(VKEY[i]) + 1) + VKEY[i + 1 :] for i in range(len(VKEY))]
    bad += [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]
    for key in bad:
        with pytest.raises(FormatError):
            parse_verifier_key(key)


def test_unknown_signatures_are_ignored_and_each_key_verifies() -> None:
    note = GO_NOTE + ENOCH_SIG
    assert verify_note(note, "PeterNeumann", PETER_PUB) == TEXT
    assert verify_note(note, "EnochRoot", parse_verifier_key(ENOCH_VKEY)[1]) == TEXT
    assert [s.name for s in parse_note(note).signatures] == ["PeterNeumann", "EnochRoot"]
    repeated = TEXT + "\n" + PETER_SIG * 2 + ENOCH_SIG * 3
    assert verify_note(repeated, "PeterNeumann", PETER_PUB) == TEXT


def test_a_changed_byte_or_a_wrong_key_fails() -> None:
    with pytest.raises(SignatureError):
        verify_note(GO_NOTE.replace("cryptography", "cryptographY"), "PeterNeumann", PETER_PUB)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(SignatureError):
        verify_note(GO_NOTE, "PeterNeumann", other)
    with pytest.raises(SignatureError):
        verify_note(GO_NOTE, "PeterNeuman", PETER_PUB)
    # Go's "invalid signature" case: base64 stays valid, the signature does not.
    with pytest.raises(SignatureError):
        verify_note(
            TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], "PeterNeumann", PETER_PUB
        )


def test_a_signature_under_the_right_name_and_id_by_another_key_fails() -> None:
    forged = NoteSignature("PeterNeumann", key_id("PeterNeumann", PETER_PUB), b"\x01" * 64)
    note = Note(TEXT, [forged, *parse_note(GO_NOTE).signatures]).encode()
    with pytest.raises(SignatureError):  # the spec: a bad signature by a known key rejects all
        verify_note(note, "PeterNeumann", PETER_PUB)


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
        "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),  # non-canonical base64
        TEXT + "\n" + "— a+b AAAAAAAA\n",
        TEXT + "\n" + "— PeterNeumann AAAA\n",  # fewer than 5 bytes
        "\ud800\n\n" + PETER_SIG,  # a lone surrogate cannot be UTF-8
    ],
)
def test_malformed_notes_are_format_errors(data: str | bytes) -> None:
    # Go's TestOpen badMsgs, the 101-signature limit, and a few of our own.
    with pytest.raises(FormatError):
        parse_note(data)
    with pytest.raises(FormatError):
        verify_note(data, "PeterNeumann", PETER_PUB)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("abc", "n"),
        ("a\n\nb\n", "n"),
        ("\n", "n"),
        ("a\tb\n", "n"),
        (TEXT, ""),
        (TEXT, "a b"),
        (TEXT, "a+b"),
    ],
)
def test_sign_refuses_bad_text_or_name(text: str, name: str) -> None:
    with pytest.raises(FormatError):
        sign_note(text, name, go_signer_key(SKEY)[1])


def test_text_may_hold_blank_lines_when_read() -> None:
    # The spec lets the text hold blank lines; the last blank line starts the signatures.
    assert parse_note("a\n\nb\n\n" + PETER_SIG).text == "a\n\nb\n"


KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
lines = st.text(st.characters(min_codepoint=0x20, codec="utf-8"), min_size=1)


@given(st.lists(lines, min_size=1, max_size=5))
def test_sign_then_verify_round_trip(text_lines: list[str]) -> None:
    text = "".join(line + "\n" for line in text_lines)
    assert (
        verify_note(sign_note(text, "archive.example/log", KEY), "archive.example/log", PUB) == text
    )


noteish = st.lists(
    st.sampled_from(["\n", "— ", " ", "PeterNeumann", "x08go/ZJ", "AAAA", "=", "+", "—", "a"]),
    max_size=30,
).map("".join)


@given(st.one_of(st.binary(), st.text(), noteish, noteish.map(lambda s: TEXT + "\n" + s)))
def test_parse_note_raises_only_format_errors(data: str | bytes) -> None:
    try:
        note = parse_note(data)
    except FormatError:
        return
    assert note.text.endswith("\n") and 1 <= len(note.signatures) <= 100
