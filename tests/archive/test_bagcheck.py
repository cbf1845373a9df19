"""The package checker's primitives against published vectors and independent implementations:
RFC 8032 Ed25519, OpenSSH's SSHSIG, C2SP signed notes, RFC 9162 inclusion proofs."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import bagcheck, merkle, sshsig
from archive.bagcheck import Invalid, ed25519_verify
from archive.checkpoint import Checkpoint, sign_checkpoint
from constancia.errors import SignatureError

# RFC 8032 section 7.1 (name, public key, message, signature); checked once against
# pyca/cryptography: each secret key gives this public key and this exact signature.
RFC8032 = [
    (
        "TEST 1",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        (
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
    ),
    (
        "TEST 2",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        (
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
    ),
    (
        "TEST 3",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        (
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
            "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
    ),
    (
        "TEST 1024",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        (
            "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12"
            "ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe57"
            "38829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338b"
            "bd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
            "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e06203b33890cc9b8"
            "32f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
            "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53"
            "f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
            "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6"
            "079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553"
            "878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2"
            "cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
            "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae078"
            "4504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8"
            "fcffead94f3c7ca495e056a9b47acdb751fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301"
            "651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
            "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd9"
            "04b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
            "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a"
            "3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
            "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a4"
            "3dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041"
            "e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d9"
            "0d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
            "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef"
            "68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0"
        ),
        (
            "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
            "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"
        ),
    ),
    (
        "TEST SHA(abc)",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        (
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
            "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        ),
        (
            "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
            "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
        ),
    ),
]
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY = (1).to_bytes(32, "little")
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


#: Both Ed25519 verifiers: the standard-library one that travels in packages, and the
#: libsodium one that `constancia verify` and `verify-package` use.
VERIFIERS = {"stdlib": ed25519_verify, "libsodium": sshsig.ed25519_verify}
each_verifier = pytest.mark.parametrize("verify", VERIFIERS.values(), ids=VERIFIERS.keys())


def vector(name: str) -> tuple[bytes, bytes, bytes]:
    _, pk, msg, sig = next(v for v in RFC8032 if v[0] == name)
    return bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def raw_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@each_verifier
@pytest.mark.parametrize("name", [v[0] for v in RFC8032])
def test_rfc8032_vectors_verify(verify: Any, name: str) -> None:
    assert verify(*vector(name))


@each_verifier
@pytest.mark.parametrize("name", [v[0] for v in RFC8032])
@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_flipped_bit_anywhere_fails(verify: Any, name: str, part: int) -> None:
    args = list(vector(name))
    if not args[part]:
        args[part] = b"\0"  # TEST 1 signs the empty message: a changed one is longer
    for bit in (0, 7, 8 * len(args[part]) - 2, 8 * len(args[part]) // 2 + 3):
        changed = list(args)
        changed[part] = flip(args[part], bit)
        assert not verify(*changed), (part, bit)


@each_verifier
def test_s_at_or_above_the_group_order_is_refused(verify: Any) -> None:
    pk, msg, sig = vector("TEST 1")
    s = int.from_bytes(sig[32:], "little")
    for bad in (s + L, L, 2**256 - 1):
        assert not verify(pk, msg, sig[:32] + bad.to_bytes(32, "little"))


@each_verifier
def test_non_canonical_encodings_are_refused(verify: Any) -> None:
    # Under the identity key, R = identity and S = 0 satisfy the equation for any message;
    # only the encodings differ, so each refusal here is the encoding check alone.
    zero_s = bytes(32)
    non_canonical = [(P + 1).to_bytes(32, "little"), bytes([1, *[0] * 30, 0x80])]
    for bad in non_canonical:
        assert not verify(IDENTITY, b"m", bad + zero_s)  # R: y >= p, or "-0"
        assert not verify(bad, b"m", IDENTITY + zero_s)  # A likewise
    assert not verify(P.to_bytes(32, "little"), b"m", IDENTITY + zero_s)


def test_small_order_keys_are_refused_by_every_verifier() -> None:
    forged = IDENTITY + bytes(32)  # valid for any message under the identity key
    assert not ed25519_verify(IDENTITY, b"any message", forged)
    assert not sshsig.ed25519_verify(IDENTITY, b"any message", forged)
    # OpenSSL (inside pyca/cryptography) follows RFC 8032 to the letter and accepts it.
    Ed25519PublicKey.from_public_bytes(IDENTITY).verify(forged, b"any message")
    with pytest.raises(SignatureError):
        sshsig.verify_digest(bytes(64), sshsig_blob(IDENTITY, forged), "n")
    with pytest.raises(Invalid):
        bagcheck.sshsig_verify(bytes(64), sshsig_blob(IDENTITY, forged), "n", sshsig.ed25519_verify)


def sshsig_blob(public_key: bytes, signature: bytes, namespace: bytes = b"n") -> bytes:
    s = sshsig.ssh_string
    ed = s(b"ssh-ed25519")
    head = b"SSHSIG\0\0\0\1" + s(ed + s(public_key)) + s(namespace) + s(b"")
    return head + s(b"sha512") + s(ed + s(signature))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300), st.integers(0, 511))
def test_cryptography_signatures_verify_and_altered_ones_do_not(
    seed: bytes, message: bytes, bit: int
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    sig = key.sign(message)
    for verify in VERIFIERS.values():
        assert verify(raw_key(key), message, sig)
        assert not verify(raw_key(key), message + b"x", sig)
        assert not verify(raw_key(key), message, flip(sig, bit))


needs_ssh = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


@needs_ssh
def test_ssh_keygen_signatures_verify(tmp_path: Path) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    (tmp_path / "msg").write_bytes(b"acta de entrega\n")
    sign: list[str | Path] = ["ssh-keygen", "-Y", "sign", "-f", key, "-n", "constancia-record"]
    sign.append(tmp_path / "msg")
    subprocess.run(sign, check=True, capture_output=True)
    armored = (tmp_path / "msg.sig").read_bytes()
    pub = base64.b64decode(Path(f"{key}.pub").read_text().split()[1])[-32:]
    digest = hashlib.sha512(b"acta de entrega\n").digest()
    assert bagcheck.sshsig_verify(digest, armored, "constancia-record") == pub
    with pytest.raises(Invalid):
        bagcheck.sshsig_verify(
            hashlib.sha512(b"otra acta\n").digest(), armored, "constancia-record"
        )


def test_our_sshsig_verifies_armored_and_raw() -> None:
    digest = hashlib.sha512(b"evento").digest()
    armored = sshsig.sign(b"evento", KEY, "constancia-event").encode()
    blob = sshsig.sign_blob(b"evento", KEY, "constancia-event")
    assert bagcheck.sshsig_verify(digest, armored, "constancia-event") == PUB
    assert bagcheck.sshsig_verify(digest, blob, "constancia-event") == PUB


@pytest.mark.parametrize(
    ("namespace", "hash_name"), [("constancia-record", b"sha512"), ("constancia-event", b"sha256")]
)
def test_sshsig_namespace_and_hash_are_enforced(namespace: str, hash_name: bytes) -> None:
    blob = sshsig.sign_blob(b"evento", KEY, "constancia-event").replace(b"sha512", hash_name)
    with pytest.raises(Invalid):
        bagcheck.sshsig_verify(hashlib.sha512(b"evento").digest(), blob, namespace)


@given(st.binary(max_size=400))
def test_sshsig_parser_refuses_junk_without_crashing(junk: bytes) -> None:
    for data in (junk, b"SSHSIG" + junk, b"-----BEGIN SSH SIGNATURE-----\n" + junk):
        with pytest.raises(Invalid):
            bagcheck.sshsig_verify(bytes(64), data, "constancia-event")


CP = Checkpoint("constancia.local/prueba", 7, bytes(range(32)))


def test_signed_checkpoints_open() -> None:
    note = sign_checkpoint(CP, CP.origin, KEY).encode()
    assert bagcheck.open_checkpoint(note, CP.origin, PUB) == (CP.origin, 7, CP.root)


def test_a_changed_byte_in_a_checkpoint_fails() -> None:
    note = sign_checkpoint(CP, CP.origin, KEY).encode()
    for i in range(len(note)):
        changed = note[:i] + bytes([note[i] ^ 0x01]) + note[i + 1 :]
        with pytest.raises(Invalid):
            bagcheck.open_checkpoint(changed, CP.origin, PUB)


def test_a_checkpoint_by_another_key_or_name_is_a_bad_signature() -> None:
    note = sign_checkpoint(CP, CP.origin, Ed25519PrivateKey.generate()).encode()
    with pytest.raises(bagcheck.BadSignature):
        bagcheck.open_checkpoint(note, CP.origin, PUB)
    with pytest.raises(bagcheck.BadSignature):
        bagcheck.open_checkpoint(sign_checkpoint(CP, "otro", KEY).encode(), CP.origin, PUB)


@given(st.binary(max_size=300))
def test_note_parser_refuses_junk_without_crashing(junk: bytes) -> None:
    with pytest.raises(Invalid):
        bagcheck.open_checkpoint(junk, CP.origin, PUB)


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(b"event %d" % i) for i in range(n)]


@pytest.mark.parametrize("size", range(1, 21))
def test_inclusion_proofs_verify_at_every_index(size: int) -> None:
    hashes = leaves(size)
    root = merkle.root_from_leaf_hashes(hashes)
    for i in range(size):
        proof = merkle.inclusion_proof(hashes, i)
        assert bagcheck.verify_inclusion(hashes[i], i, size, proof, root)
        assert bagcheck.leaf_hash(b"event %d" % i) == hashes[i]


@pytest.mark.parametrize("size", range(1, 21))
def test_altered_inclusion_proofs_fail(size: int) -> None:
    hashes = leaves(size)
    root = merkle.root_from_leaf_hashes(hashes)
    for i in range(size):
        proof = merkle.inclusion_proof(hashes, i)
        assert not bagcheck.verify_inclusion(flip(hashes[i], 3), i, size, proof, root)
        assert not bagcheck.verify_inclusion(hashes[i], i, size, [*proof, root], root)
        if proof:
            assert not bagcheck.verify_inclusion(hashes[i], i, size, proof[:-1], root)
            assert not bagcheck.verify_inclusion(
                hashes[i], i, size, [flip(proof[0], 9), *proof[1:]], root
            )
        if size > 1:
            assert not bagcheck.verify_inclusion(hashes[i], (i + 1) % size, size, proof, root)
