"""RFC 3161 time-stamps of checkpoints, with `openssl ts` as the Time-Stamp Authority."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import der
from archive.findings import Code
from archive.identity import unlock
from archive.store import Archive
from archive.timestamp import attach, make_request
from archive.timestamp_verify import load_ca, verify_response
from archive.verify import verify_archive
from constancia.errors import ConstanciaError, FormatError, ProofError, SignatureError, UsageError
from tests.conftest import PASSPHRASE, json_lines

REPO = Path(__file__).resolve().parents[2]
_EXT = """[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = {eku}
"""


def _openssl(*args: str | Path, cwd: Path | None = None) -> str:
    out = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


class LocalTSA:
    """A Time-Stamp Authority made with `openssl`: a self-signed CA and a TSA certificate
    it issued (extendedKeyUsage critical,timeStamping); `reply` answers a request file."""

    def __init__(
        self, folder: Path, key: str = "rsa:2048", eku: str = "critical,timeStamping"
    ) -> None:
        folder.mkdir(parents=True)
        self.ca, self.cert, self.key = folder / "ca.pem", folder / "tsa.pem", folder / "tsa.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder / "ca.key",
                 "-out", self.ca, "-subj", f"/CN={folder.name} CA", "-days", "30")  # fmt: skip
        if key == "ec":
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", self.key)  # fmt: skip
            key_args = ["-key", self.key]
        else:
            key_args = ["-newkey", key, "-nodes", "-keyout", self.key]
        _openssl("req", "-new", *key_args, "-out", folder / "tsa.csr",
                 "-subj", f"/CN={folder.name} TSA")  # fmt: skip
        (folder / "ext.cnf").write_text(_EXT.format(eku=eku))
        _openssl("x509", "-req", "-in", folder / "tsa.csr", "-CA", self.ca, "-days", "30",
                 "-CAkey", folder / "ca.key", "-CAcreateserial", "-out", self.cert,
                 "-extfile", folder / "ext.cnf", "-extensions", "tsa_ext")  # fmt: skip
        self.config = folder / "tsa.cnf"
        self.config.write_text(
            "[tsa]\ndefault_tsa = tsa_config\n[tsa_config]\n"
            f"serial = {folder}/serial\nsigner_cert = {folder}/tsa.pem\n"
            f"signer_key = {folder}/tsa.key\nsigner_digest = sha256\n"
            "default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_chain = no\n"
        )

    def reply(self, query: Path, out: Path | None = None) -> Path:
        out = out or query.with_suffix(".tsr")
        subprocess.run(
            ["openssl", "ts", "-reply", "-queryfile", query, "-config", self.config, "-out", out],
            capture_output=True,
            check=False,  # a rejection is still written, with a non-zero exit
        )
        assert out.is_file()
        return out

    def stamp(self, data: Path, out: Path) -> Path:
        """A token for any file, from a request made by openssl (its own nonce)."""
        query = out.with_suffix(".tsq")
        _openssl("ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
        return self.reply(query, out)

    def resign(self, response: Path, tmp_path: Path, *options: str) -> bytes:
        """The TSTInfo of another response, signed again by this TSA's key with
        `openssl cms` (and ``options``), in a granted TimeStampResp."""
        signed_data = der.decode(response.read_bytes()).children[1].children[1].children[0]
        tst = tmp_path / "tst.der"
        tst.write_bytes(signed_data.children[2].children[1].children[0].value)
        _openssl("cms", "-sign", "-binary", "-in", tst, "-signer", self.cert, "-inkey", self.key,
                 "-econtent_type", "1.2.840.113549.1.9.16.1.4", "-md", "sha256", "-cades",
                 "-nodetach", "-outform", "DER", "-out", tmp_path / "cms.p7", *options)  # fmt: skip
        return der.sequence(der.sequence(der.integer(0)), (tmp_path / "cms.p7").read_bytes())


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTSA:
    return LocalTSA(tmp_path_factory.mktemp("tsa") / "Testigo")


def request_and_reply(archive: Path, tsa: LocalTSA, tmp_path: Path) -> tuple[Path, int]:
    """The TSA's answer to the archive's request for its latest checkpoint."""
    req = make_request(Archive.open(archive))
    query = tmp_path / f"checkpoint-{req.checkpoint}.tsq"
    query.write_bytes(req.der)
    return tsa.reply(query), req.checkpoint


@pytest.fixture
def stamped(archive: Path, tsa: LocalTSA, tmp_path: Path) -> tuple[Path, int]:
    """An archive whose checkpoint N has an attached token; (archive, N)."""
    tsr, n = request_and_reply(archive, tsa, tmp_path)
    attach(Archive.open(archive), unlock(PASSPHRASE), tsr, tsa.ca)
    return archive, n


def _codes(archive: Path) -> list[str]:
    return [str(p.code) for p in verify_archive(Archive.open(archive)).problems]


def test_openssl_reads_the_request_and_it_names_the_checkpoint(archive, tmp_path):
    req = make_request(Archive.open(archive))
    path = tmp_path / "q.tsq"
    path.write_bytes(req.der)
    text = _openssl("ts", "-query", "-in", path, "-text")
    dumped = "".join(re.findall(r"^\s+[0-9a-f]{4} - ([0-9a-f -]{47})", text, re.M))
    digest = (archive / "custody" / "checkpoints" / str(req.checkpoint)).read_bytes()
    assert dumped.replace(" ", "").replace("-", "") == hashlib.sha256(digest).hexdigest()
    assert "Hash Algorithm: sha256" in text and "Certificate required: yes" in text
    # openssl pads the hex to whole bytes (0x0AEE…), so compare the numbers.
    (nonce,) = re.findall(r"^Nonce: 0x([0-9A-Fa-f]+)$", text, re.M)
    assert int(nonce, 16) == req.nonce
    kept = archive / "custody" / "timestamps" / f"{req.checkpoint}.tsq"
    assert kept.read_bytes() == req.der
    assert make_request(Archive.open(archive)).der == req.der  # asked again: the same request


def test_attach_keeps_the_token_and_records_an_event(stamped, tsa):
    archive, n = stamped
    folder = archive / "custody" / "timestamps"
    assert sorted(p.name for p in folder.iterdir()) == [f"{n}.ca.pem", f"{n}.tsq", f"{n}.tsr"]
    assert load_ca((folder / f"{n}.ca.pem").read_bytes()) == load_ca(tsa.ca.read_bytes())
    event = json_lines((archive / "custody" / "log.jsonl").read_text())[-1]
    assert event["action"] == "timestamp-attached" and event["seq"] == n
    details = event["details"]
    assert details["checkpoint"] == n and details["tsa"] == "CN=Testigo TSA"
    token = (folder / f"{n}.tsr").read_bytes()
    assert details["token_sha256"] == hashlib.sha256(token).hexdigest()
    cp = (archive / "custody" / "checkpoints" / str(n)).read_text().split("\n")
    assert details["root"] == cp[2] and re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:]{8}Z", details["gen_time"]
    )
    assert (archive / "custody" / "checkpoints" / str(n + 1)).is_file()
    assert _codes(archive) == []


def test_the_readme_recipe_verifies_a_stored_token_with_openssl(stamped):
    archive, n = stamped
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(N=\d+[^\n]*\nopenssl ts -verify.*?)```", readme, re.S)
    assert block is not None, "README shows how to check a stored token with openssl ts"
    at_time = re.search(r"```sh\n(T=\$\(openssl ts -reply.*?)```", readme, re.S)
    assert at_time is not None, "README shows how to check an expired token (-attime)"
    script = re.sub(r"^N=\d+", f"N={n}", block.group(1))
    for run_it in (script, f"N={n}\n{at_time.group(1)}"):
        out = subprocess.run(["sh", "-c", run_it], cwd=archive, capture_output=True, text=True)
        assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stdout + out.stderr
    (archive / "custody" / "checkpoints" / str(n)).write_text("forged\n")
    out = subprocess.run(["sh", "-c", script], cwd=archive, capture_output=True, text=True)
    assert out.returncode != 0 and "Verification: FAILED" in out.stdout


@pytest.mark.parametrize("where", [-1, 80])  # the signature; inside the TSTInfo
def test_verify_reports_an_altered_token(stamped, where):
    archive, n = stamped
    token = archive / "custody" / "timestamps" / f"{n}.tsr"
    data = bytearray(token.read_bytes())
    data[where] ^= 0x01
    token.write_bytes(bytes(data))
    assert _codes(archive) == ["TIMESTAMP_INVALID"]


def test_verify_reports_an_altered_or_missing_checkpoint(stamped):
    archive, n = stamped
    checkpoint = archive / "custody" / "checkpoints" / str(n)
    checkpoint.write_bytes(checkpoint.read_bytes().replace(b"\n", b"\n\n", 1))
    assert "TIMESTAMP_INVALID" in _codes(archive)
    checkpoint.unlink()
    problems = verify_archive(Archive.open(archive)).problems
    assert [p.path for p in problems if p.code == Code.TIMESTAMP_INVALID] == [
        f"custody/timestamps/{n}.tsr"
    ]


def test_a_token_for_another_archives_checkpoint_is_refused(run, archive, tsa, tmp_path):
    assert run("init", tmp_path / "otro", "--name", "Otro archivo").exit_code == 0
    tsr, _ = request_and_reply(tmp_path / "otro", tsa, tmp_path)
    with pytest.raises(ProofError, match="none of this archive's checkpoints"):
        attach(Archive.open(archive), unlock(PASSPHRASE), tsr, tsa.ca)


def test_a_token_of_a_tsa_under_another_ca_is_refused(archive, tsa, tmp_path):
    impostor = LocalTSA(tmp_path / "Impostor")
    tsr, _ = request_and_reply(archive, impostor, tmp_path)
    with pytest.raises(SignatureError, match="not issued by the given CA"):
        attach(Archive.open(archive), unlock(PASSPHRASE), tsr, tsa.ca)
    assert not list((archive / "custody" / "timestamps").glob("*.tsr"))


def test_an_answer_to_another_request_is_refused_by_its_nonce(archive, tsa, tmp_path):
    make_request(Archive.open(archive))  # keeps N.tsq with our nonce
    n = int((archive / "custody" / "checkpoint").read_text().split("\n")[1])
    tsr = tsa.stamp(archive / "custody" / "checkpoints" / str(n), tmp_path / "replay.tsr")
    with pytest.raises(ProofError, match="nonce"):
        attach(Archive.open(archive), unlock(PASSPHRASE), tsr, tsa.ca)


def test_a_rejected_request_is_refused(archive, tsa, tmp_path):
    query = tmp_path / "sha512.tsq"  # the TSA only accepts SHA-256: it answers "rejection"
    _openssl("ts", "-query", "-data", archive / "custody" / "checkpoint", "-sha512", "-out", query)
    with pytest.raises(ProofError, match="did not grant"):
        attach(Archive.open(archive), unlock(PASSPHRASE), tsa.reply(query), tsa.ca)


@pytest.mark.parametrize("eku", ["timeStamping", "critical,timeStamping,serverAuth"])
def test_a_certificate_not_only_for_time_stamping_is_refused(archive, tsa, tmp_path, eku):
    plain = LocalTSA(tmp_path / "Plain", eku=eku)  # RFC 3161 §2.3: critical, and only that
    tsr, _ = request_and_reply(archive, tsa, tmp_path)
    bad = tmp_path / "bad.tsr"
    bad.write_bytes(plain.resign(tsr, tmp_path))
    with pytest.raises(SignatureError, match="not a time-stamping certificate"):
        attach(Archive.open(archive), unlock(PASSPHRASE), bad, plain.ca)


def test_attach_works_after_later_checkpoints_and_keeps_a_second_token(run, archive, tmp_path, tsa):
    tsr, n = request_and_reply(archive, tsa, tmp_path)
    assert run("verify", "--record", "--archive", archive).exit_code == 0  # checkpoint n + 1
    archive_ = Archive.open(archive)
    assert attach(archive_, unlock(PASSPHRASE), tsr, tsa.ca).checkpoint == n
    ec_tsa = LocalTSA(tmp_path / "Curva", key="ec")
    query = archive / "custody" / "timestamps" / f"{n}.tsq"
    second = attach(
        archive_, unlock(PASSPHRASE), ec_tsa.reply(query, tmp_path / "b.tsr"), ec_tsa.ca
    )
    assert (second.checkpoint, second.path) == (n, f"custody/timestamps/{n}-2.tsr")
    with pytest.raises(UsageError, match="already attached"):
        attach(archive_, unlock(PASSPHRASE), tsr, tsa.ca)
    assert _codes(archive) == []


def test_attach_finishes_an_attach_interrupted_before_its_event(archive, tsa, tmp_path):
    tsr, n = request_and_reply(archive, tsa, tmp_path)
    folder = archive / "custody" / "timestamps"
    (folder / f"{n}.tsr").write_bytes(tsr.read_bytes())  # stored, then killed: no event
    done = attach(Archive.open(archive), unlock(PASSPHRASE), tsr, tsa.ca)
    assert done.path == f"custody/timestamps/{n}.tsr" and (folder / f"{n}.ca.pem").is_file()
    assert json_lines((archive / "custody" / "log.jsonl").read_text())[-1]["seq"] == n
    assert _codes(archive) == []


@pytest.mark.parametrize("options", [("-keyopt", "rsa_padding_mode:pss"), ("-keyid",)])
def test_rsa_pss_and_key_id_tokens_made_by_openssl_cms_verify(tsa, tmp_path, options):
    ca = load_ca(tsa.ca.read_bytes())
    tsr = tsa.stamp(tsa.ca, tmp_path / "a.tsr")
    good = verify_response(tsr.read_bytes(), ca)
    response = tsa.resign(tsr, tmp_path, *options)
    pss = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"  # id-RSASSA-PSS
    assert (pss in response) == ("-keyopt" in options)
    again = verify_response(response, ca)
    assert (again.imprint, again.serial) == (good.imprint, good.serial)
    with pytest.raises(SignatureError):
        verify_response(response[:-1] + bytes([response[-1] ^ 1]), ca)


@pytest.mark.parametrize("data", [b"", b"garbage\n", b"\x30\x03\x30\x01\x02"])
def test_garbage_is_a_format_error(archive, tsa, tmp_path, data):
    bad = tmp_path / "bad.tsr"
    bad.write_bytes(data)
    with pytest.raises(FormatError):
        attach(Archive.open(archive), unlock(PASSPHRASE), bad, tsa.ca)


@pytest.fixture(scope="session")
def token(tsa: LocalTSA) -> bytes:
    return tsa.stamp(tsa.ca, tsa.ca.with_name("fuzz.tsr")).read_bytes()


@settings(max_examples=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.integers(0, 1399), st.integers(1, 255), min_size=1, max_size=3))
def test_a_damaged_token_raises_only_our_errors(tsa, token, flips):
    """Bytes no signature covers (the status, SignedData's version…) may change and the token
    still verify, saying the same; anything else is refused with a ConstanciaError."""
    data = bytearray(token)
    for at, mask in flips.items():
        data[at] ^= mask
    ca = load_ca(tsa.ca.read_bytes())
    try:
        damaged = verify_response(bytes(data), ca)
    except ConstanciaError:
        return
    assert damaged == verify_response(token, ca)
