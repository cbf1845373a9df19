"""OCR with Tesseract, run as a program (Debian: tesseract-ocr, -spa, -eng), and rasterising
PDF pages with pdftoppm (poppler-utils) when it is installed.

Images go to Tesseract through its standard input as PNG, and pdftoppm writes to its standard
output, so nothing is written to disk. Tesseract runs single-threaded (``OMP_THREAD_LIMIT=1``):
on a small machine its OpenMP threads make one page several times slower, not faster. Every
run has a timeout. When Tesseract or its Spanish or English data is missing, OCR is skipped
and :func:`tesseract_available` says why in a sentence.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from artefacts.extractors.result import ExtractedText, ExtractRequest

LANGUAGES = "spa+eng"
#: One page may take this long; a page that takes longer is reported, not waited for.
PAGE_TIMEOUT_SECONDS = 120.0
#: Pages (frames of a TIFF, pages of a PDF) OCR'd at most per file.
MAX_PAGES = 500
#: Pages are handed to Tesseract at most this many pixels on their longer side.
MAX_SIDE_PIXELS = 7000
#: Smaller images are enlarged twice: Tesseract misses letters less than ~20 pixels high.
UPSCALE_BELOW_PIXELS = 1200
_INSTALL = "install tesseract-ocr, tesseract-ocr-spa and tesseract-ocr-eng"


class OcrFailed(Exception):
    """A page could not be OCR'd; the message is a plain sentence."""


@lru_cache(maxsize=4)
def _probe(executable: str) -> tuple[bool, str]:
    try:
        out = subprocess.run(
            [executable, "--list-langs"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"Tesseract could not be run ({e})"
    listed = out.stdout.decode("utf-8", "replace").splitlines()[1:]
    missing = [lang for lang in ("spa", "eng") if lang not in {x.strip() for x in listed}]
    if out.returncode != 0 or missing:
        names = " and ".join(f"tesseract-ocr-{m}" for m in missing) or "its language data"
        return False, f"Tesseract lacks the language data it needs (install {names})"
    return True, "Tesseract is installed with Spanish and English"


def tesseract_available() -> tuple[bool, str]:
    """(True, ...) when ``tesseract`` runs and knows Spanish and English; else (False, why)."""
    executable = shutil.which("tesseract")
    if executable is None:
        return False, f"Tesseract is not installed ({_INSTALL})"
    return _probe(executable)


def pdftoppm_path() -> str | None:
    """The pdftoppm program (poppler-utils), or None."""
    return shutil.which("pdftoppm")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    return env


def _last_line(stderr: bytes) -> str:
    lines = [x.strip() for x in stderr.decode("utf-8", "replace").splitlines() if x.strip()]
    return lines[-1][:200] if lines else "no message"


def run_tesseract(png: bytes, *, timeout: float) -> str:
    """The text Tesseract reads in one PNG image; raises :class:`OcrFailed`."""
    executable = shutil.which("tesseract")
    if executable is None:
        raise OcrFailed("Tesseract is not installed")
    command = [executable, "stdin", "stdout", "-l", LANGUAGES]
    try:
        out = subprocess.run(
            command, input=png, capture_output=True, timeout=timeout, env=_child_env(), check=False
        )
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"Tesseract took longer than {timeout:.0f} s") from None
    except OSError as e:
        raise OcrFailed(f"Tesseract could not be run ({e})") from None
    if out.returncode != 0:
        raise OcrFailed(f"Tesseract failed ({_last_line(out.stderr)})")
    return out.stdout.decode("utf-8", "replace")


def rasterise_pdf_page(path: Path, page: int, *, dpi: int, timeout: float) -> bytes:
    """Page ``page`` (from 1) of a PDF as PNG, by pdftoppm; raises :class:`OcrFailed`."""
    executable = pdftoppm_path()
    if executable is None:
        raise OcrFailed("pdftoppm is not installed")
    command = [executable, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), str(path)]
    try:
        out = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"pdftoppm took longer than {timeout:.0f} s") from None
    except OSError as e:
        raise OcrFailed(f"pdftoppm could not be run ({e})") from None
    if out.returncode != 0 or not out.stdout:
        raise OcrFailed(f"pdftoppm could not draw the page ({_last_line(out.stderr)})")
    return out.stdout


def to_png(image: Any) -> bytes:
    """A Pillow image as a greyscale PNG sized for Tesseract."""
    from PIL import Image

    frame = image.convert("L")
    longest = max(frame.width, frame.height)
    if longest > MAX_SIDE_PIXELS:
        frame.thumbnail((MAX_SIDE_PIXELS, MAX_SIDE_PIXELS))
    elif 0 < longest < UPSCALE_BELOW_PIXELS:
        frame = frame.resize((frame.width * 2, frame.height * 2), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    frame.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _upright(img: Any) -> Any:
    from PIL import ImageOps

    try:
        # A phone photo of a page is often stored sideways, with an EXIF turn.
        return ImageOps.exif_transpose(img)
    except Exception:
        return img  # a damaged EXIF record is no reason to skip the page


def _image_pages(path: Path) -> Iterator[bytes | OcrFailed]:
    """Each page of the image at ``path`` (the frames of a TIFF; the first frame of any other
    format) as PNG for Tesseract.

    The first frame's decoding errors propagate; a later frame that fails ends the pages
    with an :class:`OcrFailed`, so the frames before it keep their text.
    """
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow warns about damaged EXIF records: noise here, the image handler reports them.
        warnings.simplefilter("ignore")
        # A decompression bomb is refused, not decoded (as artefacts.handlers.image does).
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            longest = max(img.width, img.height)
            if img.format == "JPEG" and longest > MAX_SIDE_PIXELS:
                # JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the memory and time.
                scale = MAX_SIDE_PIXELS / longest
                img.draft("L", (int(img.width * scale) + 1, int(img.height * scale) + 1))
            yield to_png(_upright(img))
            if img.format != "TIFF":
                return  # other formats' frames are animation, not pages
            try:
                frames = min(getattr(img, "n_frames", 1), MAX_PAGES)
                for index in range(1, frames):
                    img.seek(index)
                    yield to_png(img)
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                yield OcrFailed(f"the image is damaged after this page ({e})")


def ocr_pages(
    pages: Iterator[bytes | OcrFailed], request: ExtractRequest
) -> tuple[list[str], list[str], bool]:
    """(text of each page tried, failures, stopped early), within the request's deadline.

    A page that failed has the text ``""`` and a sentence in failures.
    """
    texts: list[str] = []
    failures: list[str] = []
    for number, png in enumerate(pages, start=1):
        if request.out_of_time():
            return texts, failures, True
        try:
            if isinstance(png, OcrFailed):
                raise png
            timeout = max(1.0, min(PAGE_TIMEOUT_SECONDS, request.time_left()))
            texts.append(run_tesseract(png, timeout=timeout))
        except OcrFailed as e:
            texts.append("")  # keeps texts[i] the text of page i + 1
            failures.append(f"page {number}: {e}")
    return texts, failures, False


def failure_sentence(failures: list[str]) -> str | None:
    """One sentence for the pages that could not be OCR'd, or None."""
    if not failures:
        return None
    count = "1 page" if len(failures) == 1 else f"{len(failures)} pages"
    return f"OCR failed on {count} (first, {failures[0]})"


def skipped(reason: str, *, error: str | None = None) -> ExtractedText:
    """No text, because OCR was needed but not done."""
    return ExtractedText(text="", method="none", ocr="skipped", ocr_reason=reason, error=error)


def extract_image(request: ExtractRequest) -> ExtractedText:
    """The text in a scanned page or photo, by Tesseract; OCR skipped (with why) if it can't."""
    if not request.ocr:
        return skipped("OCR was turned off")
    available, why = tesseract_available()
    if not available:
        return skipped(why)
    from PIL import Image, UnidentifiedImageError

    try:
        texts, failures, stopped = ocr_pages(_image_pages(request.path), request)
    except UnidentifiedImageError:
        return skipped(
            "the image could not be decoded",
            error="the file is not an image that can be read here, or it is badly damaged",
        )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return skipped(
            "the image claims more pixels than the safety limit",
            error="the image claims more pixels than the safety limit, so it was not decoded",
        )
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        return skipped("the image could not be decoded", error=f"the image is damaged ({e})")
    return ExtractedText(
        text="\n\n".join(texts),
        method="ocr:tesseract",
        ocr="done",
        ocr_reason="stopped at the time limit" if stopped else None,
        truncated=stopped,
        error=failure_sentence(failures),
    )
