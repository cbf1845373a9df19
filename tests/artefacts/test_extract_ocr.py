"""OCR of scanned images and image-only PDFs with Tesseract, and the reasons it is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter

from artefacts.extract import extract_text
from artefacts.extractors import ocr

AVAILABLE, WHY = ocr.tesseract_available()
needs_tesseract = pytest.mark.skipif(not AVAILABLE, reason=f"OCR not testable here: {WHY}")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LINES = ["Detenido en Villa Quintral", "el 14 de septiembre de 1973"]


def _scan(path: Path, fmt: str) -> None:
    """A white page with two lines of black text, saved as ``fmt`` (PNG, TIFF, PDF)."""
    font = ImageFont.truetype(str(DEJAVU), 44) if DEJAVU.exists() else ImageFont.load_default(44)
    page = Image.new("L", (1300, 260), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(LINES):
        draw.text((60, 50 + 90 * number), line, fill=0, font=font)
    page.save(path, fmt, resolution=150)


def _words(text: str) -> set[str]:
    return set(text.lower().split())


@needs_tesseract
def test_scanned_image_is_ocr_read(tmp_path: Path) -> None:
    _scan(tmp_path / "scan.png", "PNG")
    result = extract_text(tmp_path / "scan.png", "image/png")
    assert result.ocr == "done" and result.method == "ocr:tesseract" and result.error is None
    assert len(_words(result.text) & {"detenido", "villa", "quintral", "septiembre", "1973"}) >= 4


@needs_tesseract
def test_image_only_pdf_is_ocr_read(tmp_path: Path) -> None:
    _scan(tmp_path / "scan.pdf", "PDF")
    result = extract_text(tmp_path / "scan.pdf", "application/pdf")
    assert result.ocr == "done" and result.method == "ocr:tesseract", result
    assert len(_words(result.text) & {"detenido", "villa", "quintral", "septiembre"}) >= 3


@needs_tesseract
def test_image_only_pdf_without_pdftoppm_reads_the_embedded_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "pdftoppm_path", lambda: None)
    _scan(tmp_path / "scan.pdf", "PDF")
    result = extract_text(tmp_path / "scan.pdf", "application/pdf")
    assert result.ocr == "done", result
    assert len(_words(result.text) & {"detenido", "villa", "quintral", "septiembre"}) >= 3


def test_ocr_skipped_when_tesseract_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    why = "Tesseract is not installed (install tesseract-ocr and its language data)"
    monkeypatch.setattr(ocr, "tesseract_available", lambda: (False, why))
    _scan(tmp_path / "scan.png", "PNG")
    _scan(tmp_path / "scan.pdf", "PDF")
    for name, media_type in (("scan.png", "image/png"), ("scan.pdf", "application/pdf")):
        result = extract_text(tmp_path / name, media_type)
        assert (result.ocr, result.ocr_reason, result.text, result.error) == (
            "skipped",
            why,
            "",
            None,
        )


def test_blank_pdf_without_rasteriser_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "tesseract_available", lambda: (True, "pretend"))
    monkeypatch.setattr(ocr, "pdftoppm_path", lambda: None)
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    with (tmp_path / "blank.pdf").open("wb") as f:
        writer.write(f)
    result = extract_text(tmp_path / "blank.pdf", "application/pdf")
    assert result.ocr == "skipped"
    assert result.ocr_reason == "image-only PDF: no rasteriser (install poppler-utils)"


def test_ocr_turned_off(tmp_path: Path) -> None:
    _scan(tmp_path / "scan.png", "PNG")
    result = extract_text(tmp_path / "scan.png", "image/png", ocr=False)
    assert (result.ocr, result.ocr_reason) == ("skipped", "OCR was turned off")
    assert extract_text(tmp_path / "scan.png", "image/png", ocr=False).text == ""


def test_pdf_with_text_needs_no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "tesseract_available", lambda: pytest.fail("OCR was not needed"))
    letter = Path(__file__).resolve().parents[2] / "samples/villa-quintral/carta_comite_1976.pdf"
    assert extract_text(letter, "application/pdf").ocr == "not-needed"


def test_damaged_image_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "tesseract_available", lambda: (True, "pretend"))
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    result = extract_text(tmp_path / "x.png", "image/png")
    assert result.ocr == "skipped" and result.error is not None


@needs_tesseract
def test_multi_page_tiff_reads_every_page(tmp_path: Path) -> None:
    font = ImageFont.truetype(str(DEJAVU), 44) if DEJAVU.exists() else ImageFont.load_default(44)
    pages = []
    for word in ("Linares", "Constitución"):
        page = Image.new("L", (900, 160), 255)
        ImageDraw.Draw(page).text((60, 50), word, fill=0, font=font)
        pages.append(page)
    pages[0].save(tmp_path / "two.tiff", save_all=True, append_images=pages[1:])
    result = extract_text(tmp_path / "two.tiff", "image/tiff")
    assert "Linares" in result.text and "Constitución" in result.text


@needs_tesseract
def test_mixed_pdf_ocrs_only_the_scanned_page(tmp_path: Path) -> None:
    _scan(tmp_path / "scan.pdf", "PDF")
    writer = PdfWriter()
    writer.append(
        Path(__file__).resolve().parents[2] / "samples/villa-quintral/carta_comite_1976.pdf"
    )
    writer.append(tmp_path / "scan.pdf")
    with (tmp_path / "mixed.pdf").open("wb") as f:
        writer.write(f)
    result = extract_text(tmp_path / "mixed.pdf", "application/pdf")
    assert (result.method, result.ocr) == ("pdf-text+ocr", "done")
    letter, scan = result.text.split("Comité Parroquial de Ayuda\n\n")
    assert "obrero" in letter and "Quintral" in scan
