"""RFC 3161 time-stamp tokens: reading and verifying them, and `verify`'s check of stored ones.

A token is CMS SignedData (RFC 5652) over a TSTInfo (RFC 3161 §2.4.2), which names the
SHA-256 of the data (here: a checkpoint file) and the time. ``cryptography`` parses the
certificates and checks signatures; the CMS structure around them is read with
:mod:`archive.der`. A token verifies when:

- the signed attributes say the content is a TSTInfo and hold its digest (messageDigest),
- they are signed by the embedded certificate they name (ESS signingCertificate v1 or v2),
  as a DER SET, with RSA PKCS#1 v1.5, RSA-PSS or ECDSA,
- that certificate is issued directly by the given CA, is for time-stamping only (a critical
  extendedKeyUsage, RFC 3161 §2.3), and both were valid at the token's time.

Verification is at the token's time, not today's: a TSA certificate that has since expired
still vouches for what it signed while it was valid.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from archive import der
from archive.der import CONTEXT, SEQUENCE, SET, DerError, Element
from archive.findings import Code, Finding
from archive.store import Archive
from constancia.errors import ConstanciaError, FormatError, ProofError, SignatureError, UsageError

SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
SHA256 = "2.16.840.1.101.3.4.2.1"
_SHA1 = "1.3.14.3.2.26"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    SHA256: hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_RSA = "1.2.840.113549.1.1.1"
_RSA_PSS = "1.2.840.113549.1.1.10"
_MGF1 = "1.2.840.113549.1.1.8"
_RSA_WITH = {
    "1.2.840.113549.1.1.11": SHA256,
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
}
_EC_KEY = "1.2.840.10045.2.1"
_ECDSA_WITH = {
    "1.2.840.10045.4.3.2": SHA256,
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
}
_STATUS = ("granted", "granted with modifications", "rejection", "waiting", "revocation warning")
#: custody/timestamps/N.tsr, N-2.tsr, …: the tokens for checkpoint N.
TOKEN_NAME = re.compile(r"(0|[1-9][0-9]*)(?:-([2-9]|[1-9][0-9]+))?\.tsr")
_HINT = "ask the time-stamp authority again, and check that --ca is its CA certificate"


@dataclass(frozen=True)
class Token:
    """What a verified token says, and who signed it."""

    imprint: bytes  # the SHA-256 the TSA put its time on
    gen_time: datetime
    serial: int
    nonce: int | None
    policy: str
    signer: x509.Certificate

    @property
    def tsa(self) -> str:
        return self.signer.subject.rfc4514_string()

    @property
    def time_text(self) -> str:
        """ISO 8601 UTC with a 'Z'; the fraction of a second only if the TSA gave one."""
        t = self.gen_time
        frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
        return t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def load_ca(data: bytes, *, path: Path | str | None = None) -> x509.Certificate:
    """The first certificate of a PEM file (or a DER certificate)."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        raise UsageError(
            "is not a certificate (PEM or DER)",
            path=path,
            hint="pass the time-stamp authority's CA certificate, e.g. --ca cacert.pem",
        ) from None


def verify_response(data: bytes, ca: x509.Certificate) -> Token:
    """Parse a TimeStampResp, require that it was granted, and verify its token against
    ``ca``. FormatError for malformed bytes, ProofError for a refused request,
    SignatureError for a token that does not verify."""
    parts = der.decode(data, what="the time-stamp response").items(what="TimeStampResp")
    if not parts:
        raise DerError("the time-stamp response is an empty SEQUENCE")
    info = parts[0].items(what="PKIStatusInfo")
    if not info:
        raise DerError("the time-stamp response has an empty status")
    status = info[0].integer(what="PKIStatus")
    if status not in (0, 1):
        name = _STATUS[status] if 0 <= status < len(_STATUS) else "unknown"
        raise ProofError(
            f"the time-stamp authority did not grant the request (status {status}: {name})",
            hint="make a new request with `constancia timestamp request` and send it again",
        )
    if len(parts) != 2:
        raise DerError("the time-stamp response is granted but carries no token")
    token = _verify_signed_data(parts[1])
    _check_certificate(token.signer, ca, token.gen_time)
    return token


def _verify_signed_data(token: Element) -> Token:
    """The TSTInfo of a token whose CMS signature by its embedded certificate holds."""
    ci = token.items(what="the token (ContentInfo)")
    if len(ci) != 2 or ci[0].oid(what="the token's content type") != SIGNED_DATA:
        raise DerError("the token is not CMS SignedData")
    wrapped = ci[1].items(0, CONTEXT, what="the token's content")
    if len(wrapped) != 1:
        raise DerError("the token's content is not one SignedData")
    sd = wrapped[0].items(what="SignedData")
    if len(sd) < 4:
        raise DerError("SignedData lacks fields")
    encap = sd[2].items(what="EncapsulatedContentInfo")
    if len(encap) != 2 or encap[0].oid(what="eContentType") != TST_INFO:
        raise DerError("the token does not hold a TSTInfo (id-ct-TSTInfo)")
    inner = encap[1].items(0, CONTEXT, what="eContent")
    if len(inner) != 1:
        raise DerError("the token's eContent is not one OCTET STRING")
    content = inner[0].octets(what="eContent")
    certs = [e for e in sd[3:-1] if e.is_(0, CONTEXT) and e.constructed]
    signers = sd[-1].items(SET, what="signerInfos")
    if len(signers) != 1:
        raise DerError(f"the token has {len(signers)} signers; a time-stamp has exactly one")
    si = signers[0].items(what="SignerInfo")
    if len(si) < 6:
        raise DerError("SignerInfo lacks fields")
    digest_alg = _hash_of(si[2], what="the signer's digestAlgorithm")
    if not si[3].is_(0, CONTEXT) or not si[3].constructed:
        raise DerError("the token's SignerInfo has no signed attributes")
    attrs, sig_alg, signature = si[3], si[4], si[5].octets(what="signature")
    signer, signer_der = _find_signer(si[1], [c for e in certs for c in e.children])
    _check_attributes(attrs, content, digest_alg, signer_der)
    # The signature covers the attributes as a SET (RFC 5652 §5.4), not as [0] IMPLICIT.
    _check_signature(signer, sig_alg, digest_alg, signature, b"\x31" + attrs.raw[1:])
    return _parse_tst_info(content, signer)


def _find_signer(sid: Element, certs: list[Element]) -> tuple[x509.Certificate, bytes]:
    for c in certs:
        if not c.is_(SEQUENCE) or not c.children or not c.children[0].children:
            continue
        tbs = c.children[0].children
        i = 1 if tbs[0].is_(0, CONTEXT) else 0
        if len(tbs) < i + 3:
            continue
        if sid.is_(SEQUENCE):  # IssuerAndSerialNumber
            ias = sid.items(what="the signer's issuer and serial")
            if len(ias) == 2 and ias[0].raw == tbs[i + 2].raw and ias[1].raw == tbs[i].raw:
                return _load_cert(c.raw), c.raw
        elif sid.is_(0, CONTEXT):  # SubjectKeyIdentifier
            cert = _load_cert(c.raw)
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ski.value.digest == sid.value:
                return cert, c.raw
    raise SignatureError(
        "the token does not carry its signer's certificate",
        hint="request the time-stamp with the certificate included (certReq, as "
        "`constancia timestamp request` does)",
    )


def _load_cert(raw: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(raw)
    except (ValueError, x509.InvalidVersion) as e:
        raise FormatError(f"the token's signer certificate cannot be read ({e})") from None


def _check_attributes(attrs: Element, content: bytes, digest_alg: str, signer_der: bytes) -> None:
    found: dict[str, tuple[Element, ...]] = {}
    for a in attrs.children:
        parts = a.items(what="a signed attribute")
        if len(parts) != 2:
            raise DerError("a signed attribute is not a type and a SET of values")
        oid = parts[0].oid(what="a signed attribute's type")
        if oid in found:
            raise DerError(f"the signed attribute {oid} appears twice")
        found[oid] = parts[1].items(SET, what=f"the values of attribute {oid}")
    for oid in (_CONTENT_TYPE, _MESSAGE_DIGEST):
        if len(found.get(oid, ())) != 1:
            raise SignatureError(f"the token's signed attributes lack {oid} (or repeat it)")
    if found[_CONTENT_TYPE][0].oid(what="the content-type attribute") != TST_INFO:
        raise SignatureError("the token's signed content-type is not id-ct-TSTInfo")
    digest = found[_MESSAGE_DIGEST][0].octets(what="the messageDigest attribute")
    if digest != _digest(digest_alg, content):
        raise SignatureError("the token's signed messageDigest is not that of its TSTInfo")
    # ESS signingCertificate (v1: SHA-1; v2: SHA-256 unless named) binds the signer's cert.
    for oid in (_SIGNING_CERT_V2, _SIGNING_CERT):
        if len(found.get(oid, ())) != 1:
            continue
        ids = found[oid][0].items(what="signingCertificate")
        certs = ids[0].items(what="signingCertificate certs") if ids else ()
        if not certs:
            raise DerError("the signingCertificate attribute names no certificate")
        first = certs[0].items(what="ESSCertID")
        if oid == _SIGNING_CERT:
            expected = hashlib.sha1(signer_der).digest()
        elif first[0].is_(SEQUENCE):
            expected, first = _digest(_hash_of(first[0], what="ESSCertIDv2"), signer_der), first[1:]
        else:
            expected = hashlib.sha256(signer_der).digest()
        if not first or first[0].octets(what="ESSCertID certHash") != expected:
            raise SignatureError("the token's signingCertificate names another certificate")
        return
    raise SignatureError("the token has no signingCertificate attribute (RFC 3161 requires one)")


def _check_signature(
    cert: x509.Certificate, alg: Element, digest_alg: str, signature: bytes, signed: bytes
) -> None:
    parts = alg.items(what="signatureAlgorithm")
    oid = parts[0].oid(what="signatureAlgorithm") if parts else ""
    try:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and oid in (_RSA, *_RSA_WITH):
            h = _HASHES[_RSA_WITH.get(oid, digest_alg)]()
            key.verify(signature, signed, padding.PKCS1v15(), h)
        elif isinstance(key, rsa.RSAPublicKey) and oid == _RSA_PSS and len(parts) == 2:
            pss, h = _pss(parts[1])
            key.verify(signature, signed, pss, h)
        elif isinstance(key, ec.EllipticCurvePublicKey) and oid in (_EC_KEY, *_ECDSA_WITH):
            h = _HASHES[_ECDSA_WITH.get(oid, digest_alg)]()
            key.verify(signature, signed, ec.ECDSA(h))
        else:
            raise SignatureError(
                f"the token's signature algorithm {oid or '?'} is not supported for its key"
            )
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        raise SignatureError("the TSA's signature on the token does not verify") from None


def _pss(params: Element) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    """RSASSA-PSS-params (RFC 4055); SHA-1 defaults are refused as too weak."""
    fields = {
        e.tag: e.children[0]
        for e in params.items(what="RSASSA-PSS-params")
        if e.cls == CONTEXT and len(e.children) == 1
    }
    if 0 not in fields or 1 not in fields:
        raise SignatureError("the token's RSA-PSS signature uses SHA-1 (too weak)")
    h = _HASHES[_hash_of(fields[0], what="PSS hashAlgorithm")]()
    mgf = fields[1].items(what="PSS maskGenAlgorithm")
    if len(mgf) != 2 or mgf[0].oid(what="PSS maskGenAlgorithm") != _MGF1:
        raise SignatureError("the token's RSA-PSS signature uses an unknown mask function")
    mgf_hash = _HASHES[_hash_of(mgf[1], what="MGF1 hash")]()
    salt = fields[2].integer(what="PSS saltLength") if 2 in fields else 20
    if not 0 <= salt <= 1024:
        raise DerError("the token's RSA-PSS salt length is not plausible")
    return padding.PSS(padding.MGF1(mgf_hash), salt), h


def _hash_of(alg: Element, *, what: str) -> str:
    """The OID of a SHA-2 AlgorithmIdentifier (parameters absent or NULL)."""
    parts = alg.items(what=what)
    oid = parts[0].oid(what=what) if parts else ""
    if oid not in _HASHES or len(parts) > 2:
        raise SignatureError(f"{what} {oid or '?'} is not SHA-256, SHA-384 or SHA-512")
    if len(parts) == 2:
        parts[1].null(what=what)
    return oid


def _digest(alg: str, data: bytes) -> bytes:
    h = hashes.Hash(_HASHES[alg]())
    h.update(data)
    return h.finalize()


def _parse_tst_info(content: bytes, signer: x509.Certificate) -> Token:
    f = der.decode(content, what="the TSTInfo").items(what="TSTInfo")
    if len(f) < 5 or f[0].integer(what="TSTInfo version") != 1:
        raise DerError("the TSTInfo is not version 1 or lacks fields")
    imprint = f[2].items(what="messageImprint")
    if len(imprint) != 2 or _hash_of(imprint[0], what="the imprint's algorithm") != SHA256:
        raise ProofError("the token does not time-stamp a SHA-256 digest")
    nonces = [e.integer(what="nonce") for e in f[5:] if e.is_(der.INTEGER)]
    return Token(
        imprint=imprint[1].octets(what="hashedMessage"),
        gen_time=f[4].generalized_time(what="genTime"),
        serial=f[3].integer(what="serialNumber"),
        nonce=nonces[0] if nonces else None,
        policy=f[1].oid(what="policy"),
        signer=signer,
    )


def _check_certificate(cert: x509.Certificate, ca: x509.Certificate, when: datetime) -> None:
    name = cert.subject.rfc4514_string()
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise SignatureError(
            f"the TSA's certificate ({name}) was not issued by the given CA "
            f"({ca.subject.rfc4514_string()})",
            hint=_HINT,
        ) from None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        eku = None
    except ValueError as e:
        raise FormatError(f"the TSA's certificate has malformed extensions ({e})") from None
    if eku is None or not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise SignatureError(
            f"the certificate ({name}) is not a time-stamping certificate (RFC 3161 needs a "
            "critical extendedKeyUsage of timeStamping only)",
            hint=_HINT,
        )
    for c, who in ((cert, "TSA's"), (ca, "CA's")):
        if not c.not_valid_before_utc <= when <= c.not_valid_after_utc:
            raise SignatureError(f"the {who} certificate was not valid at the token's time")


def parse_request(data: bytes) -> tuple[bytes, int | None]:
    """The SHA-256 imprint and nonce of a TimeStampReq."""
    f = der.decode(data, what="the time-stamp request").items(what="TimeStampReq")
    if len(f) < 2 or f[0].integer(what="TimeStampReq version") != 1:
        raise DerError("the time-stamp request is not version 1")
    imprint = f[1].items(what="messageImprint")
    if len(imprint) != 2 or _hash_of(imprint[0], what="the request's algorithm") != SHA256:
        raise DerError("the time-stamp request is not for a SHA-256 digest")
    nonces = [e.integer(what="nonce") for e in f[2:] if e.is_(der.INTEGER)]
    return imprint[1].octets(what="hashedMessage"), nonces[0] if nonces else None


def check_stored_token(archive: Archive, token_path: Path, n: int) -> Token:
    """Verify custody/timestamps/STEM.tsr against STEM.ca.pem, checkpoints/N and N.tsq."""
    folder = token_path.parent
    ca_path = folder / (token_path.name[: -len(".tsr")] + ".ca.pem")
    if not ca_path.is_file():
        raise ProofError(f"its CA certificate {ca_path.name} is missing")
    token = verify_response(token_path.read_bytes(), load_ca(ca_path.read_bytes(), path=ca_path))
    checkpoint = archive.checkpoints_dir / str(n)
    if not checkpoint.is_file():
        raise ProofError(f"the checkpoint it time-stamps, checkpoints/{n}, is gone")
    if hashlib.sha256(checkpoint.read_bytes()).digest() != token.imprint:
        raise ProofError(f"it does not time-stamp checkpoints/{n} as that file is now")
    check_nonce(folder / f"{n}.tsq", token)
    return token


def check_nonce(request_path: Path, token: Token) -> None:
    """The token must answer the stored request for its checkpoint, if one was kept."""
    if not request_path.is_file():
        return
    imprint, nonce = parse_request(request_path.read_bytes())
    if imprint != token.imprint or nonce != token.nonce:
        raise ProofError(
            f"the token does not answer the request kept as {request_path.name} (its nonce "
            "differs): it may be a replay of an older answer",
            hint="send the request file `constancia timestamp request` wrote, and attach "
            "the answer to that request",
        )


def check_timestamps(archive: Archive, problems: list[Finding]) -> None:
    """Every stored token must verify against its stored CA certificate and still name the
    SHA-256 of its checkpoint (TIMESTAMP_INVALID otherwise). Only reads."""
    folder = archive.custody / "timestamps"
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.tsr")):
        if path.name.startswith("."):  # a temporary file of an interrupted attach
            continue
        rel = f"custody/timestamps/{path.name}"
        m = TOKEN_NAME.fullmatch(path.name)
        if m is None:
            message = "is not named N.tsr or N-K.tsr after its checkpoint"
            problems.append(Finding(Code.TIMESTAMP_INVALID, message, path=rel))
            continue
        try:
            check_stored_token(archive, path, int(m.group(1)))
        except ConstanciaError as e:
            problems.append(Finding(Code.TIMESTAMP_INVALID, e.message, path=rel))
        except OSError as e:
            problems.append(Finding(Code.TIMESTAMP_INVALID, f"cannot be read ({e})", path=rel))
