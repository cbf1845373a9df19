"""Evidence packages made by `constancia export`: their records, signatures and custody
events come in as they were; their proofs are checked first."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.ingest.import_helpers import objects, snapshot


@pytest.fixture
def archive(run, tmp_path) -> Path:
    """The receiving archive (the `filled` one the package comes from is tmp_path/archive)."""
    path = tmp_path / "receiving"
    assert run("init", path, "--name", "Archivo Central").exit_code == 0
    return path


def _rewrite(package: Path, rel: str, data: bytes) -> None:
    """Change a payload file and the manifests' lines for it (the tag manifest's signature
    then fails, as it should: the sender signed other manifests)."""
    (package / rel).write_bytes(data)

    def relist(listing: Path, name: str, alg: str, content: bytes) -> None:
        digest = hashlib.new(alg, content).hexdigest()
        lines = listing.read_text().splitlines()
        listing.write_text(
            "".join(
                f"{digest}  {name}\n" if ln.endswith(f"  {name}") else ln + "\n" for ln in lines
            )
        )

    for alg in ("sha256", "sha512"):
        relist(package / f"manifest-{alg}.txt", rel, alg, data)
    payload = [f for f in (package / "data").rglob("*") if f.is_file()]
    oxum = f"Payload-Oxum: {sum(f.stat().st_size for f in payload)}.{len(payload)}"
    info = package / "bag-info.txt"
    info.write_text(re.sub(r"(?m)^Payload-Oxum: .*$", oxum, info.read_text()))
    for alg in ("sha256", "sha512"):
        for manifest in ("manifest-sha256.txt", "manifest-sha512.txt", "bag-info.txt"):
            content = (package / manifest).read_bytes()
            relist(package / f"tagmanifest-{alg}.txt", manifest, alg, content)


def test_a_package_comes_in_with_its_records_and_history(run, archive, package):
    result = run("import", package, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "package" and out["counts"]["new"] == 2
    for obj in objects(archive):
        art = obj.name[15:]
        assert (obj / "v1/content/record.json").read_bytes() == (
            package / f"data/artefacts/{art}/record.json"
        ).read_bytes()
    kept = archive / out["history"]
    events = next(kept.glob("packages/*/events.jsonl"))
    assert events.read_bytes() == (package / "data/custody/events.jsonl").read_bytes()
    assert json.loads(run("verify", "--archive", archive, "--json").stdout)["ok"]


def test_importing_a_package_twice_changes_nothing(run, archive, package):
    assert run("import", package, "--archive", archive).exit_code == 0
    before = snapshot(archive)
    assert run("import", package, "--archive", archive).exit_code == 0
    assert snapshot(archive) == before


def test_a_package_with_a_bad_record_signature_needs_a_reason(run, archive, package):
    art = next((package / "data/artefacts").iterdir())
    sig = art / "record.json.sig"
    _rewrite(package, sig.relative_to(package).as_posix(), sig.read_bytes().replace(b"A", b"B", 1))
    before = snapshot(archive)
    refused = run("import", package, "--archive", archive, "--json")
    assert refused.exit_code == 1 and snapshot(archive) == before
    assert {p["code"] for p in json.loads(refused.stdout)["problems"]} == {"SIGNATURE_INVALID"}
    taken = run("import", package, "--archive", archive, "--accept-unverified", "seen by hand")
    assert taken.exit_code == 0, taken.output


def test_a_package_record_of_broken_json_is_refused(run, archive, package):
    art = next((package / "data/artefacts").iterdir())
    _rewrite(package, f"data/artefacts/{art.name}/record.json", b'{"format": ')
    before = snapshot(archive)
    result = run("import", package, "--archive", archive, "--accept-unverified", "x", "--json")
    assert result.exit_code == 1 and snapshot(archive) == before
    assert "RECORD_INVALID" in {p["code"] for p in json.loads(result.stdout)["problems"]}


def test_verify_re_proves_a_kept_package_history(run, archive, package):
    out = json.loads(run("import", package, "--archive", archive, "--json").stdout)
    proofs = next((archive / out["history"]).glob("packages/*/proofs.jsonl"))
    proofs.write_bytes(proofs.read_bytes().replace(b'"index":', b'"index":1', 1))
    report = json.loads(run("verify", "--archive", archive, "--json").stdout)
    assert {p["code"] for p in report["problems"]} == {"SOURCE_HISTORY_INVALID"}
