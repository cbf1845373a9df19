"""extract_text on PDF and DOCX, whole and damaged."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from artefacts.extract import extract_text

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "villa-quintral"
LETTER = SAMPLES / "carta_comite_1976.pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_pdf_text_layer_is_extracted() -> None:
    result = extract_text(LETTER, "application/pdf")
    assert result.method == "pdf-text" and result.ocr == "not-needed" and result.error is None
    assert "don José Sepúlveda Ríos, obrero, detenido en su domicilio" in result.text
    assert result.language_hint == "es"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) absent")
def test_pdf_text_agrees_with_pdftotext() -> None:
    theirs = subprocess.run(["pdftotext", str(LETTER), "-"], capture_output=True, check=True)
    ours = extract_text(LETTER, "application/pdf").text
    for line in theirs.stdout.decode().splitlines():
        assert " ".join(line.split()) in " ".join(ours.split())


def test_cut_short_pdf_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(LETTER.read_bytes()[:2000])
    result = extract_text(path, "application/pdf")
    assert result.text == "" and result.error is not None and "cut short" in result.error


def test_garbage_pdf_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nnonsense\n%%EOF\n")
    result = extract_text(path, "application/pdf")
    assert result.error is not None and result.text == ""


def test_password_protected_pdf_is_an_error(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(LETTER))
    writer.encrypt("secreto", algorithm="AES-256")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as f:
        writer.write(f)
    result = extract_text(path, "application/pdf")
    assert result.error == "the PDF is protected by a password, so its text cannot be read"


def test_no_time_left_stops_before_the_first_page() -> None:
    result = extract_text(LETTER, "application/pdf", time_limit=0)
    assert result.truncated and result.text == ""


def _word_document(path: Path) -> None:
    document = docx.Document()
    document.core_properties.language = "es-CL"
    document.sections[0].header.paragraphs[0].text = "Vicaría — copia 2"
    document.add_heading("Declaración jurada", level=1)
    document.add_paragraph("Yo, Elena Ríos, declaro:")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Nombre"
    table.cell(0, 2).text = "Fecha"
    for cell, text in zip(table.rows[1].cells, ["José", "Sepúlveda", "1973"], strict=True):
        cell.text = text
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(picture, "PNG")
    document.add_picture(picture)
    document.add_paragraph("Firmado en Linares.")
    document.save(str(path))


def test_docx_paragraphs_tables_and_header(tmp_path: Path) -> None:
    path = tmp_path / "d.docx"
    _word_document(path)
    result = extract_text(path, DOCX)
    assert result.error is None and result.method == "docx" and result.language_hint == "es-CL"
    assert result.text == (
        "Declaración jurada\nYo, Elena Ríos, declaro:\nNombre\tFecha\nJosé\tSepúlveda\t1973\n\n"
        "Firmado en Linares.\n\nVicaría — copia 2"
    )


def _rezip(source: Path, target: Path, replace: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = replace.get(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        ({"word/document.xml": b"<w:document><w:body><w:p>"}, "damaged"),
        ({"word/document.xml": None}, "no word/document.xml"),
        ({"[Content_Types].xml": None}, "damaged"),
    ],
)
def test_damaged_docx_is_an_error(
    tmp_path: Path, replace: dict[str, bytes | None], expected: str
) -> None:
    good, bad = tmp_path / "good.docx", tmp_path / "bad.docx"
    _word_document(good)
    _rezip(good, bad, replace)
    result = extract_text(bad, DOCX)
    assert result.text == "" and result.error is not None and expected in result.error


def test_docx_that_is_not_a_zip_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    result = extract_text(path, DOCX)
    assert (
        result.error
        == "the file is not a readable Word document: it is damaged or not a ZIP archive"
    )
