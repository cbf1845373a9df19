"""Every kind of tampering `verify` must catch, each with its own finding code."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from archive import merkle
from archive.checkpoint import Checkpoint, sign_checkpoint
from archive.custody_log import EVENT_NAMESPACE, canonical, signing_payload
from archive.identity import unlock
from tests.conftest import PASSPHRASE


@pytest.fixture
def filled(run, archive, make_files) -> Path:
    first = make_files({"uno.txt": "primer testimonio", "dos.txt": "segundo testimonio"})
    assert run("ingest", first, "--archive", archive).exit_code == 0
    second = make_files({"tres.txt": "tercero"})
    assert run("ingest", second, "--archive", archive).exit_code == 0  # checkpoints 1, 3, 4
    assert run("verify", "--archive", archive).exit_code == 0
    return archive


def codes(run, archive: Path) -> set[str]:
    result = run("verify", "--archive", archive, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    return {p["code"] for p in report["problems"]}


def _file(archive: Path, part: str) -> Path:
    (path,) = [
        p for p in sorted((archive / "objects").rglob("*")) if p.is_file() and part in p.as_posix()
    ][:1]
    return path


def _log(archive: Path) -> Path:
    return archive / "custody" / "log.jsonl"


def test_changed_byte_in_original(run, filled):
    f = _file(filled, "original/uno.txt")
    f.write_bytes(b"Primer testimonio")
    assert "FIXITY_MISMATCH" in codes(run, filled)


def test_deleted_original(run, filled):
    _file(filled, "original/dos.txt").unlink()
    assert "FILE_MISSING" in codes(run, filled)


def test_planted_file(run, filled):
    f = _file(filled, "original/uno.txt")
    (f.parent / "plantado.txt").write_text("no estaba")
    assert codes(run, filled) == {"UNEXPECTED_FILE"}


def test_edited_record(run, filled):
    rec = _file(filled, "v1/content/record.json")
    rec.write_bytes(rec.read_bytes().replace(b'"version": 1', b'"version": 1 '))
    assert "SIGNATURE_INVALID" in codes(run, filled)


def test_record_resigned_by_unregistered_key(run, filled, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive import sshsig

    rec = _file(filled, "v1/content/record.json")
    sig = rec.with_name("record.json.sig")
    sig.write_text(sshsig.sign(rec.read_bytes(), Ed25519PrivateKey.generate(), "constancia-record"))
    assert "SIGNER_UNKNOWN" in codes(run, filled)


def _lines(archive: Path) -> list[bytes]:
    return _log(archive).read_bytes().splitlines()


def _write_lines(archive: Path, lines: list[bytes]) -> None:
    _log(archive).write_bytes(b"".join(line + b"\n" for line in lines))


def test_edited_log_line(run, filled):
    lines = _lines(filled)
    i = next(n for n, line in enumerate(lines) if b"dos.txt" in line)
    lines[i] = lines[i].replace(b"dos.txt", b"dox.txt")
    _write_lines(filled, lines)
    assert "EVENT_SIGNATURE_INVALID" in codes(run, filled)


def test_deleted_log_line(run, filled):
    lines = _lines(filled)
    del lines[2]
    _write_lines(filled, lines)
    assert "LOG_EVENT_MISSING" in codes(run, filled)


def test_reordered_log_lines(run, filled):
    lines = _lines(filled)
    lines[1], lines[2] = lines[2], lines[1]
    _write_lines(filled, lines)
    found = codes(run, filled)
    assert "LOG_OUT_OF_ORDER" in found and "LOG_EVENT_MISSING" not in found


def test_duplicated_log_line(run, filled):
    lines = _lines(filled)
    lines.insert(2, lines[2])
    _write_lines(filled, lines)
    assert "LOG_EVENT_DUPLICATED" in codes(run, filled)


def test_truncated_log(run, filled):
    _write_lines(filled, _lines(filled)[:-1])
    assert "LOG_TRUNCATED" in codes(run, filled)


def test_checkpoint_signature_does_not_verify(run, filled):
    cp = filled / "custody" / "checkpoint"
    text = cp.read_text()
    body, sigs = text.split("\n\n", 1)
    sig_b64 = sigs.split(" ")[-1].strip()
    raw = bytearray(base64.b64decode(sig_b64))
    raw[-1] ^= 1
    cp.write_text(f"{body}\n\n{sigs.replace(sig_b64, base64.b64encode(bytes(raw)).decode())}")
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(run, filled)


def test_history_rewritten_and_resigned_by_custodian(run, filled, home):
    """The custodian edits an old event, re-signs it and the latest checkpoint: only the
    older checkpoints kept in custody/checkpoints/ can reveal it."""
    from archive.store import Archive

    signer = unlock(PASSPHRASE, home)
    lines = _lines(filled)
    event = json.loads(lines[1])
    event["details"]["source"] = "/otro/lugar/uno.txt"
    blob = signer.sign_sshsig_blob(signing_payload(event), EVENT_NAMESPACE)
    event["sig"] = base64.b64encode(blob).decode()
    lines[1] = canonical(event)
    _write_lines(filled, lines)
    # Re-sign the latest checkpoint over the new log, by hand (Constancia refuses to).
    origin = Archive.open(filled).settings.origin
    cp = Checkpoint(
        origin, len(lines), merkle.root_from_leaf_hashes([merkle.leaf_hash(line) for line in lines])
    )
    note = sign_checkpoint(cp, origin, signer.private_key).encode()
    (filled / "custody" / "checkpoint").write_bytes(note)
    (filled / "custody" / "checkpoints" / str(len(lines))).write_bytes(note)
    found = codes(run, filled)
    assert "CHECKPOINT_INCONSISTENT" in found
    assert "EVENT_SIGNATURE_INVALID" not in found and "LOG_ROOT_MISMATCH" not in found


def test_original_changed_with_every_ocfl_digest(run, filled):
    """Someone rewrites the original AND every OCFL digest: the signed record still knows."""
    f = _file(filled, "original/tres.txt")
    obj = next(p for p in f.parents if (p / "0=ocfl_object_1.1").exists())
    old, new = f.read_bytes(), b"texto cambiado"
    f.write_bytes(new)
    inv = json.loads((obj / "inventory.json").read_text())
    o512, n512 = hashlib.sha512(old).hexdigest(), hashlib.sha512(new).hexdigest()
    o256, n256 = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    content, logical = "v1/content/original/tres.txt", "original/tres.txt"
    state = inv["versions"]["v1"]["state"]
    for block, old_d, new_d, path in (
        (inv["manifest"], o512, n512, content),
        (state, o512, n512, logical),
        (inv["fixity"]["sha256"], o256, n256, content),
    ):  # move the original's path to its new digest (its extracted text keeps the old)
        block[old_d].remove(path)
        if not block[old_d]:
            del block[old_d]
        block[new_d] = [path]
    text = json.dumps(inv, indent=2, sort_keys=True) + "\n"
    for path in (obj / "inventory.json", obj / "v1" / "inventory.json"):
        path.write_text(text)
        digest = hashlib.sha512(text.encode()).hexdigest()
        path.with_name("inventory.json.sha512").write_text(f"{digest}  inventory.json\n")
    assert codes(run, filled) == {"RECORD_DIGEST_MISMATCH"}


def test_worker_processes_find_exactly_what_one_process_finds(filled):
    """Large archives are checked in worker processes: same findings, same order."""
    from archive.store import Archive
    from archive.verify import verify_archive

    _file(filled, "original/uno.txt").write_bytes(b"otro texto")
    (_file(filled, "original/dos.txt").parent / "plantado.txt").write_text("x")
    archive = Archive.open(filled)
    serial = verify_archive(archive, workers=1)
    parallel = verify_archive(archive, workers=2)
    assert {p.code for p in serial.problems} >= {"FIXITY_MISMATCH", "UNEXPECTED_FILE"}
    assert parallel.problems == serial.problems
    assert parallel.artefacts == serial.artefacts == 3
