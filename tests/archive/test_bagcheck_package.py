"""The package checker on packages made by `constancia export`, then damaged: each kind of
damage is reported with its code, and a sound package passes with either Ed25519 verifier."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import bagcheck, sshsig
from archive.checkpoint import Checkpoint, sign_checkpoint
from constancia.cli import cli
from tests.archive.package_factory import (
    bag_info,
    build_package,
    codes,
    copy_package,
    lines,
    originals,
    records,
    reseal,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, _identity_template: Path) -> Path:
    return build_package(tmp_path_factory.mktemp("bagcheck"), _identity_template)


@pytest.fixture
def bag(template: Path, tmp_path: Path) -> Path:
    return copy_package(template, tmp_path / "bag")


def test_a_sound_package_passes_with_both_verifiers(bag: Path) -> None:
    pure = bagcheck.check_package(bag)
    fast = bagcheck.check_package(bag, ed25519_verify=sshsig.ed25519_verify)
    assert pure == fast
    assert pure["ok"], pure["problems"]
    assert (pure["artefacts"], pure["checkpoint"]) == (2, pure["events"])
    assert (bag / "verify.py").read_bytes() == Path(bagcheck.__file__).read_bytes()


def test_changed_original(bag: Path) -> None:
    original = originals(bag)[0]
    original.write_bytes(original.read_bytes().replace(b"a", b"o", 1))
    assert {"FIXITY_MISMATCH", "RECORD_DIGEST_MISMATCH"} <= codes(bag)


def test_changed_record(bag: Path) -> None:
    record = records(bag)[0]
    record.write_bytes(record.read_bytes().replace(b'"version": 1', b'"version": 2'))
    assert {"FIXITY_MISMATCH", "SIGNATURE_INVALID"} <= codes(bag)


def test_record_signed_by_a_key_not_in_the_package(bag: Path) -> None:
    record = records(bag)[0]
    sig = sshsig.sign(record.read_bytes(), Ed25519PrivateKey.generate(), "constancia-record")
    Path(f"{record}.sig").write_text(sig)
    assert "SIGNER_UNKNOWN" in codes(bag)


def test_dropped_event_line(bag: Path) -> None:
    events = bag / "data/custody/events.jsonl"
    events.write_bytes(b"".join(lines(events)[1:]))
    assert "LOG_EVENT_MISSING" in codes(bag)


def test_dropped_ingest_event_and_its_proof(bag: Path) -> None:
    events, proofs = bag / "data/custody/events.jsonl", bag / "data/custody/proofs.jsonl"
    i = next(n for n, line in enumerate(lines(events)) if b'"action":"ingest"' in line)
    for path in (events, proofs):
        path.write_bytes(b"".join(line for n, line in enumerate(lines(path)) if n != i))
    assert {"ARTEFACT_NOT_IN_LOG", "EVENT_RECORD_MISMATCH"} <= codes(bag)


def test_edited_event(bag: Path) -> None:
    events = bag / "data/custody/events.jsonl"
    events.write_bytes(events.read_bytes().replace(b'"time":"20', b'"time":"19', 1))
    assert {"EVENT_SIGNATURE_INVALID", "INCLUSION_PROOF_INVALID"} <= codes(bag)


def test_event_that_is_not_canonical_json(bag: Path) -> None:
    events = bag / "data/custody/events.jsonl"
    events.write_bytes(events.read_bytes().replace(b'{"action"', b'{ "action"', 1))
    assert {"LOG_LINE_INVALID", "INCLUSION_PROOF_INVALID"} <= codes(bag)


def test_proof_that_misses_the_checkpoint(bag: Path) -> None:
    proofs = bag / "data/custody/proofs.jsonl"
    data = bytearray(proofs.read_bytes())
    at = data.index(b'"hashes":["') + len(b'"hashes":["')
    data[at] = ord("B") if data[at] != ord("B") else ord("C")  # still canonical base64
    proofs.write_bytes(bytes(data))
    assert "INCLUSION_PROOF_INVALID" in codes(bag)


def test_forged_checkpoint(bag: Path) -> None:
    path = bag / "data/custody/checkpoint"
    body = path.read_text(encoding="utf-8").split("\n\n")[0] + "\n"
    cp = Checkpoint.parse(body)
    path.write_text(sign_checkpoint(cp, cp.origin, Ed25519PrivateKey.generate()))
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(bag)
    assert bagcheck.check_package(bag)["checkpoint"] is None


def test_verify_package_command_reaches_the_same_verdict(bag: Path) -> None:
    originals(bag)[0].write_bytes(b"otra cosa\n")
    (bag / "data/custody/events.jsonl").write_bytes(b"{}\n")
    args = ["verify-package", str(bag), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert json.loads(result.stdout) == bagcheck.check_package(bag)


def test_missing_payload_file(bag: Path) -> None:
    os.unlink(originals(bag)[0])
    assert "FILE_MISSING" in codes(bag)


def test_extra_payload_file(bag: Path) -> None:
    (bag / "data" / "nota.txt").write_text("añadido después\n")
    assert "UNEXPECTED_FILE" in codes(bag)


def test_wrong_payload_oxum(bag: Path) -> None:
    info = bag / "bag-info.txt"
    oxum = bag_info(bag)["Payload-Oxum"]
    info.write_text(info.read_text().replace(oxum, "1." + oxum.split(".")[1]))
    assert {"PAYLOAD_OXUM_MISMATCH", "FIXITY_MISMATCH"} <= codes(bag)


def test_symlink_in_data_is_reported_not_followed(bag: Path, tmp_path: Path) -> None:
    # The link stands in for the original and points at a true copy: following it would
    # find nothing wrong.
    original = originals(bag)[0]
    outside = tmp_path / "copy"
    outside.write_bytes(original.read_bytes())
    original.unlink()
    original.symlink_to(outside)
    found = bagcheck.check_package(bag)["problems"]
    assert any(p["code"] == "UNEXPECTED_FILE" and "link" in p["message"] for p in found)


def test_symlinked_folder_is_not_entered(bag: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret").write_text("not part of the package")
    (bag / "data" / "more").symlink_to(tmp_path / "elsewhere")
    found = bagcheck.check_package(bag)["problems"]
    assert [p["path"] for p in found] == ["data/more"]


def test_broken_bagit_txt(bag: Path) -> None:
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 0.97\n")
    assert "BAG_INVALID" in codes(bag)


def test_custodian_given_must_sign_the_checkpoint(bag: Path) -> None:
    custodian = bag_info(bag)["Constancia-Custodian"]
    assert codes(bag, custodian=custodian) == set()
    assert codes(bag, custodian="SHA256:" + "A" * 43) == {"CHECKPOINT_SIGNATURE_INVALID"}


def test_unsigned_tag_manifest(bag: Path) -> None:
    (bag / "tagmanifest-sha512.txt.sig").unlink()
    assert codes(bag) == {"SIGNATURE_MISSING"}


def test_pem_that_differs_from_its_pub(bag: Path) -> None:
    (pem,) = (bag / "data/keys").glob("*.pem")
    pem.write_bytes(pem.read_bytes().replace(b"MCow", b"MCoX"))
    assert "KEY_INVALID" in codes(bag)


def test_manifest_path_with_dot_dot(bag: Path) -> None:
    manifest = bag / "manifest-sha256.txt"
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  data/../../etc/passwd\n")
    assert "BAG_INVALID" in codes(bag)


def test_resealing_after_a_change_passes(bag: Path, _identity_template: Path) -> None:
    info = bag / "bag-info.txt"
    info.write_text(info.read_text(encoding="utf-8").replace("Evidence", "Prueba"), "utf-8")
    reseal(bag, _identity_template)
    assert codes(bag) == set()


def test_a_file_no_record_names_is_reported_even_when_resealed(
    bag: Path, _identity_template: Path
) -> None:
    folder = originals(bag)[0].parent.parent
    (folder / "original" / "segunda-version.txt").write_text("añadido y firmado\n")
    (bag / "data" / "nota.txt").write_text("añadido\n")
    (bag / "data" / "keys" / "leeme.txt").write_text("añadido\n")
    reseal(bag, _identity_template)
    found = bagcheck.check_package(bag)["problems"]
    assert {(p["code"], p["path"].rsplit("/", 1)[-1]) for p in found} == {
        ("UNEXPECTED_FILE", "segunda-version.txt"),
        ("UNEXPECTED_FILE", "nota.txt"),
        ("UNEXPECTED_FILE", "leeme.txt"),
    }


def test_what_bagit_allows_is_accepted(bag: Path, _identity_template: Path) -> None:
    info = bag / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    info.write_text(text.replace("Evidence package", "Evidence\n  package"), encoding="utf-8")
    manifest = bag / "manifest-sha512.txt"
    manifest.write_bytes(manifest.read_bytes().replace(b"  data/", b" \t data/"))
    reseal(bag, _identity_template, payload=False)
    assert b"\n  package" in info.read_bytes() and b" \t data/" in manifest.read_bytes()
    assert codes(bag) == set()


def test_percent_encoded_names_are_decoded(bag: Path, _identity_template: Path) -> None:
    (bag / "data" / "100% cierto\r\n.txt").write_text("nombre difícil\n")
    reseal(bag, _identity_template)
    assert b"data/100%25 cierto%0D%0A.txt" in (bag / "manifest-sha256.txt").read_bytes()
    # Found under its decoded name (no FILE_MISSING, no FIXITY_MISMATCH); the format has no
    # place for it, which is the only finding.
    assert codes(bag) == {"UNEXPECTED_FILE"}


def test_the_exported_samples_pass(package: Path) -> None:
    # conftest's package: a PDF and a testimony from samples/, with derived files.
    verdict = bagcheck.check_package(package)
    assert verdict["ok"], verdict["problems"]
    derived = list((package / "data/artefacts").glob("*/derived/*"))
    assert derived and verdict["artefacts"] == 2


@pytest.mark.parametrize("damage", ["none", "original", "several"])
def test_hashing_in_the_background_changes_no_verdict_and_no_order(
    bag: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    # Large payload files are hashed on a background thread while later steps run, and the
    # checks that need them are put off; the report must be the one a plain run gives.
    if damage in ("original", "several"):
        original = originals(bag)[0]
        original.write_bytes(original.read_bytes().replace(b"a", b"o", 1))
    if damage == "several":
        originals(bag)[1].unlink()
        records(bag)[0].write_bytes(records(bag)[0].read_bytes() + b" ")
        (bag / "data" / "extra.txt").write_text("no manifest lists me\n")
    monkeypatch.setattr(bagcheck, "_THREADED", 1 << 40)  # nothing counts as large
    plain = bagcheck.check_package(bag, ed25519_verify=sshsig.ed25519_verify)
    monkeypatch.setattr(bagcheck, "_THREADED", 16)  # every payload file counts as large
    background = bagcheck.check_package(bag, ed25519_verify=sshsig.ed25519_verify)
    assert background == plain
    assert plain["ok"] == (damage == "none")
    if damage != "none":
        assert "FIXITY_MISMATCH" in [p["code"] for p in plain["problems"]]
