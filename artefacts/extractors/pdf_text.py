"""PDF text with pypdf, and OCR for the pages that have (nearly) no text layer.

A scanned dossier is usually a PDF of page images, sometimes behind a typed cover letter, so
the decision is made page by page: a page whose text layer has fewer than
:data:`MIN_LAYER_CHARS` letters and digits is drawn by pdftoppm and read by Tesseract. Without
pdftoppm, the page's largest embedded image (a scan is one) is read instead, decoded by pypdf
and Pillow. As in :mod:`artefacts.handlers.pdf`, a file cut short is refused before pypdf
sees it, and large files are read strictly so that damage fails fast instead of being
repaired by scanning the whole file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from artefacts.extractors import ocr
from artefacts.extractors.result import ExtractedText, ExtractRequest
from artefacts.handlers.pdf import REPAIR_MAX_BYTES

#: A page with fewer letters and digits than this in its text layer is treated as a scan.
MIN_LAYER_CHARS = 16
DPI = 200
_TAIL_BYTES = 64 * 1024
_MAX_IMAGES_PER_PAGE = 8
_NO_RASTERISER = "image-only PDF: no rasteriser (install poppler-utils)"


class _PdfRefused(Exception):
    pass


def _check_ends(f: Any, size: int) -> None:
    f.seek(max(0, size - _TAIL_BYTES))
    tail = f.read(_TAIL_BYTES)
    if b"%%EOF" not in tail:
        raise _PdfRefused("the PDF has no end-of-file marker: it is cut short or damaged")
    if size > REPAIR_MAX_BYTES and b"startxref" not in tail:
        raise _PdfRefused("the PDF has no cross-reference pointer near its end: it is damaged")
    f.seek(0)


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


def _language(reader: Any) -> str | None:
    try:
        lang = reader.trailer["/Root"].get("/Lang")
    except Exception:
        return None
    text = str(lang).strip() if lang is not None else ""
    return text[:35] or None


def _dpi(page: Any) -> int:
    """200 dpi, less for a page so large that it would exceed the OCR pixel cap."""
    try:
        longest = max(float(page.mediabox.width), float(page.mediabox.height))
    except Exception:
        return DPI
    if longest <= 0:
        return DPI
    return max(36, min(DPI, int(ocr.MAX_SIDE_PIXELS * 72 / longest)))


def _largest_image(page: Any) -> bytes:
    best: Any = None
    for index, found in enumerate(page.images):
        if index >= _MAX_IMAGES_PER_PAGE:
            break
        image = found.image
        if image is not None and (
            best is None or image.width * image.height > best.width * best.height
        ):
            best = image
    if best is None:
        raise ocr.OcrFailed("the page has no text layer and no image")
    return ocr.to_png(best)


def _rendered_pages(
    path: Path, pages: list[Any], numbers: list[int], request: ExtractRequest
) -> Iterator[bytes | ocr.OcrFailed]:
    use_pdftoppm = ocr.pdftoppm_path() is not None
    for number in numbers:
        timeout = max(1.0, min(ocr.PAGE_TIMEOUT_SECONDS, request.time_left()))
        try:
            if use_pdftoppm:
                yield ocr.rasterise_pdf_page(
                    path, number, dpi=_dpi(pages[number - 1]), timeout=timeout
                )
            else:
                yield _largest_image(pages[number - 1])
        except ocr.OcrFailed as e:
            yield e
        except Exception as e:
            yield ocr.OcrFailed(f"the page image could not be decoded ({type(e).__name__})")


def _has_images(page: Any) -> bool:
    try:
        resources: Any = page.get("/Resources")
        xobjects: Any = resources.get_object().get("/XObject") if resources else None
        if not xobjects:
            return False
        return any(
            xobject.get_object().get("/Subtype") == "/Image"
            for xobject in xobjects.get_object().values()
        )
    except Exception:
        return False


def _ocr_state(request: ExtractRequest, pages: list[Any], needed: list[int]) -> tuple[bool, str]:
    """(whether to OCR, the reason if not)."""
    if not request.ocr:
        return False, "OCR was turned off"
    available, why = ocr.tesseract_available()
    if not available:
        return False, why
    if ocr.pdftoppm_path() is None and not any(_has_images(pages[n - 1]) for n in needed):
        return False, _NO_RASTERISER
    return True, ""


def _read_layers(reader: Any, request: ExtractRequest) -> tuple[list[str], list[int], bool]:
    """(text of each page read, pages that failed, stopped early)."""
    texts: list[str] = []
    failed: list[int] = []
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        if total > request.max_chars or request.out_of_time():
            return texts, failed, True
        try:
            text = page.extract_text() or ""
        except Exception:
            # One bad content stream must not cost the other pages their text.
            text = ""
            failed.append(number)
        texts.append(text)
        total += len(text)
    return texts, failed, False


def _with_ocr(
    request: ExtractRequest, pages: list[Any], texts: list[str], result: ExtractedText
) -> ExtractedText:
    """``result`` with the pages whose text layer is (nearly) empty OCR'd, or OCR skipped."""
    needed = [n for n, text in enumerate(texts, start=1) if _letters(text) < MIN_LAYER_CHARS]
    if not needed:
        return result
    go, reason = _ocr_state(request, pages, needed)
    if not go:
        return replace(result, ocr="skipped", ocr_reason=reason)
    rendered = _rendered_pages(request.path, pages, needed, request)
    found, failures, stopped = ocr.ocr_pages(rendered, request)
    for number, text in zip(needed, found, strict=False):
        texts[number - 1] = text
    errors = [e for e in (result.error, ocr.failure_sentence(failures)) if e]
    return replace(
        result,
        text="\n\n".join(texts),
        method="ocr:tesseract" if len(needed) == len(texts) else "pdf-text+ocr",
        ocr="done",
        ocr_reason=(
            f"OCR stopped at the time limit after {len(found)} of {len(needed)} pages"
            if stopped
            else None
        ),
        truncated=result.truncated or stopped,
        error="; ".join(errors) or None,
    )


def extract_pdf(request: ExtractRequest) -> ExtractedText:
    """The text layer of every page, with scanned pages OCR'd when Tesseract is installed."""
    from pypdf import PdfReader

    # pypdf logs font-encoding gaps and repairs, even as errors; the result says what matters.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    size = request.path.stat().st_size
    with request.path.open("rb") as f:
        try:
            _check_ends(f, size)
        except _PdfRefused as e:
            return ExtractedText(text="", method="none", error=str(e))
        reader = PdfReader(f, strict=size > REPAIR_MAX_BYTES)
        if reader.is_encrypted and not reader.decrypt(""):
            locked = "the PDF is protected by a password, so its text cannot be read"
            return ExtractedText(text="", method="none", error=locked)
        texts, failed, truncated = _read_layers(reader, request)
        error: str | None = None
        if failed:
            error = f"the text of {len(failed)} page(s) could not be read (first: page {failed[0]})"
        result = ExtractedText(
            text="\n\n".join(texts),
            method="pdf-text",
            language_hint=_language(reader),
            truncated=truncated,
            error=error,
        )
        return _with_ocr(request, list(reader.pages)[: len(texts)], texts, result)
