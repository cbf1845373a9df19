"""`constancia export`: a BagIt bag that outside tools accept, recorded in the custody log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from archive.store import Archive
from tests.conftest import Run, json_lines


def _bag_info(package: Path) -> dict[str, str]:
    lines = (package / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines)


def test_bagit_python_validates_the_package(package: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bagit", "--validate", str(package)], capture_output=True
    )
    assert done.returncode == 0, done.stderr


def test_bagit_txt_is_exactly_two_lines(package: Path) -> None:
    assert (package / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )


def test_bag_info_names_sender_size_and_identifier(package: Path) -> None:
    info = _bag_info(package)
    files = [p for p in (package / "data").rglob("*") if p.is_file()]
    octets = sum(p.stat().st_size for p in files)
    assert info["Payload-Oxum"] == f"{octets}.{len(files)}"
    assert info["Source-Organization"] == "Archivo Prueba"
    assert info["External-Identifier"].startswith("urn:uuid:")
    assert info["Internal-Sender-Identifier"].startswith("constancia.local/")
    for label in ("Bagging-Date", "Bag-Size", "External-Description", "Constancia-Custodian"):
        assert info[label]


def test_originals_travel_byte_for_byte(filled: tuple[Path, list[str]], package: Path) -> None:
    from tests.conftest import SAMPLES

    for art in filled[1][:2]:
        (original,) = (package / "data" / "artefacts" / art / "original").iterdir()
        assert original.read_bytes() == (SAMPLES / original.name).read_bytes()
        assert (package / "data" / "artefacts" / art / "record.json.sig").is_file()


def test_export_is_a_custody_event(run: Run, filled: tuple[Path, list[str]], package: Path) -> None:
    archive, ids = filled
    events = json_lines(run("log", "--archive", archive, "--json").stdout)
    exported = [e for e in events if e["action"] == "exported"]
    assert len(exported) == 1
    details = exported[0]["details"]
    assert details["artefacts"] == sorted(ids[:2])
    assert details["recipient"] == "CV"
    assert details["package"] == _bag_info(package)["External-Identifier"]
    assert run("verify", "--archive", archive).exit_code == 0


def test_package_carries_its_export_event_and_the_ingests(package: Path) -> None:
    lines = (package / "data/custody/events.jsonl").read_bytes().splitlines()
    actions = [line.split(b'"action":"')[1].split(b'"')[0] for line in lines]
    assert actions.count(b"ingest") == 2
    assert actions[-1] == b"exported"
    assert b"key-registered" in actions
    proofs = (package / "data/custody/proofs.jsonl").read_bytes().splitlines()
    assert len(proofs) == len(lines)


def test_events_are_byte_identical_to_the_log(
    filled: tuple[Path, list[str]], package: Path
) -> None:
    log = set(Archive.open(filled[0]).log_path.read_bytes().splitlines())
    exported = (package / "data/custody/events.jsonl").read_bytes().splitlines()
    assert exported and all(line in log for line in exported)


def test_query_exports_what_the_search_finds(
    run: Run, filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    archive, _ = filled
    to = tmp_path / "by-query"
    result = run("export", "--query", "Whitford", "--to", to, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    (report,) = json_lines(result.stdout)
    assert len(report["artefacts"]) == 1
    (folder,) = (to / "data" / "artefacts").iterdir()
    assert any("anne_whitford" in p.name for p in (folder / "original").iterdir())


def test_log_tells_a_person_who_exported_what_for_whom(
    run: Run, filled: tuple[Path, list[str]], package: Path
) -> None:
    text = run("log", "--archive", filled[0]).stdout
    assert "exported 2 artefact(s) as urn:uuid:" in text
    assert "for CV" in text
