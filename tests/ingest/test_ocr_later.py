"""OCR at ingest when Tesseract is there; when it is not, the record says why, and
`constancia index rebuild --ocr` adds the text later as a new, signed version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from artefacts.extractors import ocr
from tests.artefacts.test_extract_ocr import _scan, needs_tesseract
from tests.conftest import json_lines

OCFL_VALIDATE = str(Path(sys.executable).parent / "ocfl-validate.py")


def _hits(run, archive: Path, query: str) -> list[str]:
    out = run("search", query, "--archive", archive, "--json").stdout
    return [h["id"] for h in json_lines(out) if "id" in h]


@needs_tesseract
def test_scanned_page_found_through_ocr(run, archive, tmp_path):
    (tmp_path / "in").mkdir()
    _scan(tmp_path / "in" / "escaneo.png", "PNG")
    (line,) = json_lines(run("ingest", tmp_path / "in", "--archive", archive, "--json").stdout)
    assert _hits(run, archive, "quintral") == [line["id"]]


@needs_tesseract
def test_ocr_skipped_then_added_by_rebuild(run, archive, tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    _scan(tmp_path / "in" / "escaneo.png", "PNG")
    with monkeypatch.context() as m:
        m.setattr(ocr, "tesseract_available", lambda: (False, "Tesseract is not installed"))
        (line,) = json_lines(run("ingest", tmp_path / "in", "--archive", archive, "--json").stdout)
    art = line["id"]
    record = json.loads(run("show", art, "--archive", archive, "--json").stdout)["record"]
    assert record["derived"]["text"]["ocr"] == "skipped"
    assert record["derived"]["text"]["ocr_reason"] == "Tesseract is not installed"
    assert _hits(run, archive, "quintral") == []

    assert run("index", "rebuild", "--ocr", "--archive", archive).exit_code == 0
    assert _hits(run, archive, "quintral") == [art]
    shown = json.loads(run("show", art, "--archive", archive, "--json").stdout)
    assert shown["versions"] == 2 and shown["record"]["derived"]["text"]["ocr"] == "done"
    assert [e["action"] for e in shown["custody"]] == ["ingest", "derived-added"]
    assert run("verify", "--archive", archive).exit_code == 0
    obj = next((archive / "objects").rglob("0=ocfl_object_1.1")).parent
    out = subprocess.run([sys.executable, OCFL_VALIDATE, str(obj)], capture_output=True, text=True)
    assert out.returncode == 0 and "[W" not in out.stdout, out.stdout
