"""An auditor checks an archive with tools nobody on this project wrote."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import json_lines

REPO = Path(__file__).resolve().parents[2]
OCFL_VALIDATE = shutil.which("ocfl-validate.py") or str(
    Path(sys.executable).parent / "ocfl-validate.py"
)


@pytest.fixture
def ingested(run, archive) -> Path:
    result = run("ingest", REPO / "samples" / "villa-quintral", "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    assert len(json_lines(result.stdout)) >= 6
    return archive


def _objects(archive: Path) -> list[Path]:
    return sorted(p.parent for p in (archive / "objects").rglob("0=ocfl_object_1.1"))


def test_ocfl_py_accepts_every_object(ingested):
    objects = _objects(ingested)
    assert len(objects) >= 6
    for obj in objects:
        out = subprocess.run(
            [sys.executable, OCFL_VALIDATE, str(obj)], capture_output=True, text=True
        )
        assert out.returncode == 0 and "is VALID" in out.stdout, out.stdout + out.stderr
        assert "[W" not in out.stdout and "[E" not in out.stdout, out.stdout
    root = subprocess.run(
        [sys.executable, OCFL_VALIDATE, str(ingested / "objects")], capture_output=True, text=True
    )
    assert root.returncode == 0, root.stdout + root.stderr


def test_ocfl_py_rejects_a_corrupted_object(ingested):
    obj = _objects(ingested)[0]
    original = next((obj / "v1" / "content" / "original").iterdir())
    original.write_bytes(original.read_bytes() + b"!")
    out = subprocess.run([sys.executable, OCFL_VALIDATE, str(obj)], capture_output=True, text=True)
    assert out.returncode != 0


def test_ssh_keygen_verifies_every_record_signature(ingested):
    signers = ingested / "keys" / "allowed_signers"
    principal = signers.read_text().split()[0]
    records = sorted(ingested.glob("objects/**/v1/content/record.json"))
    assert records
    for rec in records:
        out = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                signers,
                "-I",
                principal,
                "-n",
                "constancia-record",
                "-s",
                rec.with_name("record.json.sig"),
            ],
            stdin=rec.open("rb"),
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert "Good" in out.stdout


def test_ssh_keygen_rejects_an_edited_record(ingested):
    rec = next(ingested.glob("objects/**/v1/content/record.json"))
    signers = ingested / "keys" / "allowed_signers"
    out = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            signers,
            "-I",
            signers.read_text().split()[0],
            "-n",
            "constancia-record",
            "-s",
            rec.with_name("record.json.sig"),
        ],
        input=rec.read_bytes() + b" ",
        capture_output=True,
    )
    assert out.returncode != 0


def test_ssh_keygen_verifies_a_custody_event(ingested, tmp_path):
    """An event's signature covers its RFC 8785 form without "sig" (recipe in README)."""
    import rfc8785

    line = (ingested / "custody" / "log.jsonl").read_bytes().splitlines()[-1]
    event = json.loads(line)
    blob = base64.b64decode(event.pop("sig"))
    (tmp_path / "event").write_bytes(rfc8785.dumps(event))
    (tmp_path / "event.sig").write_text(
        "-----BEGIN SSH SIGNATURE-----\n"
        + "\n".join(
            base64.b64encode(blob).decode()[i : i + 70]
            for i in range(0, 400, 70)
            if base64.b64encode(blob).decode()[i : i + 70]
        )
        + "\n-----END SSH SIGNATURE-----\n"
    )
    signers = ingested / "keys" / "allowed_signers"
    out = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            signers,
            "-I",
            signers.read_text().split()[0],
            "-n",
            "constancia-event",
            "-s",
            tmp_path / "event.sig",
        ],
        stdin=(tmp_path / "event").open("rb"),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def _readme_checkpoint_recipe(key: Path) -> str:
    """The exact shell block README.md gives auditors, with this archive's key."""
    text = (REPO / "README.md").read_text()
    blocks = text.split("```sh\n")[1:]
    (block,) = [b.split("```")[0] for b in blocks if "openssl pkeyutl" in b]
    lines = [f"KEY={key}" if line.startswith("KEY=") else line for line in block.splitlines()]
    return "set -e\n" + "\n".join(lines)


def test_openssl_verifies_the_checkpoint_with_the_readme_recipe(ingested):
    key = next((ingested / "keys").glob("*.pem"))
    script = _readme_checkpoint_recipe(key)
    out = subprocess.run(["bash", "-c", script], cwd=ingested, capture_output=True, text=True)
    assert out.returncode == 0 and "Signature Verified Successfully" in out.stdout, out.stderr
    cp = ingested / "custody" / "checkpoint"
    lines = cp.read_text().split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim one more event than was signed
    cp.write_text("\n".join(lines))
    bad = subprocess.run(["bash", "-c", script], cwd=ingested, capture_output=True, text=True)
    assert bad.returncode != 0


def test_sha256sum_confirms_artefact_ids(ingested):
    for rec in sorted(ingested.glob("objects/**/v1/content/record.json")):
        record = json.loads(rec.read_text())
        original = rec.parent / record["original"]["path"]
        out = subprocess.run(["sha256sum", original], capture_output=True, text=True)
        assert out.stdout.split()[0] == record["id"]
