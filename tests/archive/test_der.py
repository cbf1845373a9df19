"""The DER reader on hostile input: clear DerErrors, never a crash, a hang or deep recursion."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from archive import der
from archive.der import CONTEXT, DerError


def _certificate() -> bytes:
    """A real certificate, encoded by cryptography (another DER writer than ours)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vicaría")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder(name, name, key.public_key(), 2**70 + 5, now, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


CERT = _certificate()


def test_a_certificate_reads_as_cryptography_wrote_it():
    top = der.decode(CERT)
    tbs = top.items(what="Certificate")[0].items(what="TBSCertificate")
    assert tbs[0].is_(0, CONTEXT) and tbs[0].children[0].integer() == 2  # v3
    assert tbs[1].integer() == 2**70 + 5
    assert tbs[2].children[0].oid() == "1.2.840.10045.4.3.2"  # ecdsa-with-SHA256
    assert top.raw == CERT and b"".join(c.raw for c in top.children) == top.value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x30", "length is missing"),
        (b"\x30\x05\x02\x01", "claims 5 bytes but 2 remain"),
        (b"\x04\x84\xff\xff\xff\xff", "claims 4294967295 bytes"),
        (b"\x04\x89" + b"\xff" * 9, "9-byte length field"),
        (b"\x04\x82\x00\x05abcde", "shortest form"),
        (b"\x04\x81\x05abcde", "shortest form"),
        (b"\x30\x80\x05\x00\x00\x00", "indefinite length"),
        (b"\x05\x00\x05\x00", "2 bytes after"),
        (b"\x1f", "truncated inside a tag"),
        (b"\x1f\x81\x82\x83\x84\x05\x00", "tag number too large"),
        (b"\x30\x03\x02\x02\x01", "claims 2 bytes but 1 remain"),
    ],
)
def test_malformed_input_is_a_clear_der_error(data, message):
    with pytest.raises(DerError, match=message):
        der.decode(data)


def test_every_truncation_of_a_certificate_is_refused():
    for n in range(len(CERT)):
        with pytest.raises(DerError):
            der.decode(CERT[:n])


def test_deep_nesting_is_refused_quickly_without_recursion_errors():
    data = b"\x05\x00"
    for _ in range(20000):
        data = der.sequence(data)
    started = time.monotonic()
    with pytest.raises(DerError, match="nested more than"):
        der.decode(data)
    assert time.monotonic() - started < 1.0
    shallow = b"\x05\x00"
    for _ in range(der.MAX_DEPTH):
        shallow = der.sequence(shallow)
    assert der.decode(shallow).is_(der.SEQUENCE)


@pytest.mark.parametrize(
    ("data", "reader", "message"),
    [
        (b"\x02\x00", "integer", "no contents"),
        (b"\x02\x02\x00\x01", "integer", "shortest form"),
        (b"\x02\x02\xff\x80", "integer", "shortest form"),
        (b"\x02\x81\x81" + b"\x01" * 129, "integer", "too large"),
        (b"\x01\x01\x01", "boolean", "00 or FF"),
        (b"\x06\x02\x2a\x86", "oid", "ends inside an arc"),
        (b"\x06\x02\x80\x01", "oid", "shortest form"),
        (b"\x18\x0e20240101000000", "generalized_time", "not a DER GeneralizedTime"),
        (b"\x18\x0f20241301000000Z", "generalized_time", "not a real date"),
        (b"\x18\x1220240101000000.10Z", "generalized_time", "not a DER GeneralizedTime"),
        (b"\x04\x01\x00", "integer", "expected INTEGER, found OCTET STRING"),
        (b"\x24\x00", "octets", "must be primitive"),
    ],
)
def test_typed_readers_refuse_what_der_does_not_allow(data, reader, message):
    with pytest.raises(DerError, match=message):
        getattr(der.decode(data), reader)()


@pytest.mark.parametrize("n", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**64 - 1, -(2**63)])
def test_integers_round_trip_in_their_shortest_form(n):
    assert der.decode(der.integer(n)).integer() == n


@pytest.mark.parametrize("oid", ["1.2.840.113549.1.9.16.1.4", "2.16.840.1.101.3.4.2.1", "2.999.3"])
def test_oids_round_trip(oid):
    assert der.decode(der.oid(oid)).oid() == oid


def test_generalized_time_keeps_fractions():
    t = der.decode(b"\x18\x1320240911104500.125Z").generalized_time()
    assert t == datetime(2024, 9, 11, 10, 45, 0, 125000, tzinfo=UTC)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_der_error(data):
    try:
        element = der.decode(data)
    except DerError:
        return
    assert element.raw == data


_TREES = st.recursive(
    st.binary(max_size=40).map(der.octet_string),
    lambda inner: st.lists(inner, max_size=5).map(lambda parts: der.sequence(*parts)),
    max_leaves=30,
)


@given(_TREES)
def test_what_we_encode_decodes_to_the_same_bytes(data):
    element = der.decode(data)
    assert element.raw == data


@given(st.binary(min_size=1, max_size=200), st.integers(0, 199))
def test_a_flipped_byte_in_a_certificate_never_crashes(noise, at):
    data = bytearray(CERT)
    data[at % len(data)] ^= noise[0] or 1
    with contextlib.suppress(DerError):
        der.decode(bytes(data))
