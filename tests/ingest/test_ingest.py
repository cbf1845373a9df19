"""Ingest as a documenter uses it: folders, sidecars, duplicates, JSON lines, exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import json_lines

SIDE = "title: Testimonio de prueba\nlanguage: es\ndate: 1973-09/1974-03\nplaces: [Valparaíso]\n"


def _object_files(archive: Path) -> list[Path]:
    return [p for p in (archive / "objects").rglob("*") if p.is_file()]


def test_folder_ingested_with_sidecar_as_metadata(run, archive, make_files):
    src = make_files({"t1.txt": "uno", "t1.txt.yaml": SIDE, "sub/t2.md": "# dos"})
    result = run("ingest", src, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    lines = {Path(x["source"]).name: x for x in json_lines(result.stdout)}
    assert sorted(lines) == ["t1.txt", "t2.md"]  # the sidecar is no artefact
    assert all(x["status"] == "ingested" for x in lines.values())
    t1 = lines["t1.txt"]
    assert t1["id"] == hashlib.sha256(b"uno").hexdigest() == t1["sha256"]
    shown = json.loads(run("show", t1["id"][:8], "--archive", archive, "--json").stdout)
    assert shown["record"]["metadata"]["places"] == ["Valparaíso"]
    assert shown["record"]["metadata"]["date"] == "1973-09/1974-03"


def test_original_kept_byte_for_byte_and_input_untouched(run, archive, make_files):
    data = bytes(range(256)) * 100
    src = make_files({"foto.bin": data})
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in src.rglob("*")}
    assert run("ingest", src, "--archive", archive).exit_code == 0
    copies = [p for p in _object_files(archive) if "/original/" in p.as_posix()]
    assert [p.read_bytes() for p in copies] == [data]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in src.rglob("*")} == before


def test_same_bytes_twice_is_one_artefact_and_second_arrival_logged(run, archive, make_files):
    a = make_files({"a.txt": "misma"})
    b = make_files({"copia.txt": "misma", "copia.txt.yaml": "title: Otra copia\n"})
    run("ingest", a, "--archive", archive)
    result = run("ingest", b, "--archive", archive, "--json")
    (line,) = json_lines(result.stdout)
    assert line["status"] == "duplicate" and result.exit_code == 0
    log = run("log", line["id"][:10], "--archive", archive, "--json")
    events = json_lines(log.stdout)
    assert [e["action"] for e in events] == ["ingest", "duplicate-received"]
    assert events[1]["details"]["name"] == "copia.txt"
    assert events[1]["details"]["metadata"]["title"] == "Otra copia"


def test_rerun_of_same_ingest_records_nothing_new(run, archive, make_files):
    src = make_files({"a.txt": "uno", "b.txt": "dos"})
    run("ingest", src, "--archive", archive)
    size = (archive / "custody" / "log.jsonl").read_bytes().count(b"\n")
    again = json_lines(run("ingest", src, "--archive", archive, "--json").stdout)
    assert [x["status"] for x in again] == ["duplicate", "duplicate"]
    assert (archive / "custody" / "log.jsonl").read_bytes().count(b"\n") == size


def test_invalid_sidecar_rejects_that_file_only(run, archive, make_files):
    src = make_files({"a.txt": "uno", "a.txt.yaml": "title: [unclosed\n", "b.txt": "dos"})
    result = run("ingest", src, "--archive", archive, "--json")
    assert result.exit_code == 1
    by_name = {Path(x["source"]).name: x for x in json_lines(result.stdout)}
    assert by_name["a.txt"]["status"] == "rejected"
    assert "a.txt.yaml" in by_name["a.txt"]["error"] and "line" in by_name["a.txt"]["error"]
    assert by_name["b.txt"]["status"] == "ingested"
    assert run("verify", "--archive", archive).exit_code == 0


def test_meta_file_applies_to_every_input_and_sidecar_overrides(run, archive, make_files, tmp_path):
    meta = tmp_path / "lote.yaml"
    meta.write_text("collected_by: Equipo Norte\ntitle: Sin título\n")
    src = make_files({"a.txt": "uno", "b.txt": "dos", "b.txt.yaml": "title: Propio\n"})
    lines = json_lines(run("ingest", src, "--meta", meta, "--archive", archive, "--json").stdout)
    records = [
        json.loads(run("show", x["id"], "--archive", archive, "--json").stdout)["record"]
        for x in lines
    ]
    assert [r["metadata"]["title"] for r in records] == ["Sin título", "Propio"]
    assert {r["metadata"]["collected_by"] for r in records} == {"Equipo Norte"}


def test_hidden_files_skipped_unless_asked(run, archive, make_files):
    src = make_files({".oculto.txt": "x", "visible.txt": "y"})
    plain = json_lines(run("ingest", src, "--archive", archive, "--json").stdout)
    assert [Path(x["source"]).name for x in plain] == ["visible.txt"]
    hidden = json_lines(
        run("ingest", src, "--include-hidden", "--archive", archive, "--json").stdout
    )
    assert {Path(x["source"]).name for x in hidden} == {".oculto.txt", "visible.txt"}


def test_one_checkpoint_per_run_covers_whole_log(run, archive, make_files):
    src = make_files({f"f{i}.txt": f"contenido {i}" for i in range(5)})
    run("ingest", src, "--archive", archive)
    log_lines = (archive / "custody" / "log.jsonl").read_bytes().count(b"\n")
    assert log_lines == 6  # key registration + five ingests
    assert sorted(p.name for p in (archive / "custody" / "checkpoints").iterdir()) == ["1", "6"]
    assert (archive / "custody" / "checkpoint").read_text().split("\n")[1] == "6"


def test_empty_file_is_evidence_too(run, archive, make_files):
    src = make_files({"vacio.txt": b""})
    (line,) = json_lines(run("ingest", src, "--archive", archive, "--json").stdout)
    assert line["status"] == "ingested"
    assert line["id"] == hashlib.sha256(b"").hexdigest()
    assert run("verify", "--archive", archive).exit_code == 0


def test_archive_found_from_environment_and_from_inside(run, archive, make_files, monkeypatch):
    src = make_files({"a.txt": "uno"})
    assert run("ingest", src, env={"CONSTANCIA_ARCHIVE": str(archive)}).exit_code == 0
    monkeypatch.chdir(archive / "objects")
    assert run("verify").exit_code == 0


def test_language_guessed_only_where_none_is_declared(run, archive, make_files):
    text = (
        "Los detenidos fueron llevados al estadio por la noche y nadie supo de ellos durante"
        " meses; la familia los buscó en la comisaría y en el cuartel."
    )
    src = make_files(
        {"a.txt": text, "a.txt.yaml": "title: Declarada\nlanguage: es\n", "b.txt": text + " Fin."}
    )
    lines = json_lines(run("ingest", src, "--archive", archive, "--json").stdout)
    ids = {Path(x["source"]).name: x["id"] for x in lines}

    def text_info(name: str) -> dict[str, object]:
        shown = run("show", ids[name][:12], "--archive", archive, "--json").stdout
        return json.loads(shown)["record"]["derived"]["text"]

    assert "language_guess" not in text_info("a.txt")
    assert text_info("b.txt")["language_guess"] == "es"
    # Both are stemmed as Spanish: another inflection finds both.
    found = run("search", "detenida", "--archive", archive, "--json").stdout
    assert {h["id"] for h in json_lines(found) if "id" in h} == set(ids.values())
