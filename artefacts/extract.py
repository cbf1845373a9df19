"""The text of an artefact, for search: one extractor per kind of file, by media type.

:func:`extract_text` is the one entry point. It never raises: a damaged or hostile file gives
an :class:`ExtractedText` whose ``error`` is a plain sentence, since an unreadable original
is itself worth recording. It is bounded: extractors read at most a few times ``max_chars``
bytes of text files (16 MiB of HTML, the XML parts of a DOCX), stop between pages at the time
limit, and run Tesseract and pdftoppm with timeouts. A single pathological PDF page inside
pypdf cannot be interrupted; pypdf's own decompression limits bound it.

Text is normalised the same way whatever its source: Unicode NFC; line ends as ``\\n``; NULs
and control characters removed except newline and tab; trailing spaces dropped; runs of
blank lines collapsed to one. ``language_hint`` is what the file declares (``<html lang>``,
a DOCX's or PDF's language, a VTT ``Language:`` header), else ``es`` or ``en`` when common
words of one clearly outnumber the other's, else None.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import replace
from pathlib import Path

from artefacts.extractors.ocr import tesseract_available
from artefacts.extractors.result import ExtractedText, Extractor, ExtractRequest, OcrState
from artefacts.language import guess_language

__all__ = [
    "ExtractRequest",
    "ExtractedText",
    "Extractor",
    "OcrState",
    "extract_text",
    "extractor_for",
    "guess_language",
    "normalise_text",
    "register_extractor",
    "tesseract_available",
]

#: Whole-file time limit by default: OCR of a long scanned dossier takes minutes.
TIME_LIMIT_SECONDS = 600.0
_ERROR_MAX_CHARS = 300

_log = logging.getLogger(__name__)
_EXACT: dict[str, Extractor] = {}
_PREFIXES: dict[str, Extractor] = {}

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
#: Every character _LINE_BREAKS can match: a text with none of them skips its pass.
_BREAK_CHARS = ("\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")


def register_extractor(media_type_or_prefix: str, fn: Extractor) -> None:
    """Use ``fn`` for a media type (``application/pdf``) or a prefix ending in ``/``
    (``image/``). An exact type wins over a prefix; a later registration replaces an earlier."""
    key = media_type_or_prefix.lower()
    (_PREFIXES if key.endswith("/") else _EXACT)[key] = fn


def extractor_for(media_type: str) -> Extractor | None:
    """The extractor registered for ``media_type`` (parameters ignored), or None."""
    key = media_type.lower().split(";", 1)[0].strip()
    if key in _EXACT:
        return _EXACT[key]
    prefixes = [p for p in _PREFIXES if key.startswith(p)]
    return _PREFIXES[max(prefixes, key=len)] if prefixes else None


def normalise_text(text: str) -> str:
    """``text`` in the one form every extractor returns (see the module docstring)."""
    # Each pass runs only if its pattern can match: a substring test is a tenth of a
    # regex scan, and most texts need none of them (a fifth of a small file's ingest).
    if any(c in text for c in _BREAK_CHARS):
        text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text += "\n"
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()


def _sentence(message: str | None) -> str | None:
    if message is None:
        return None
    message = " ".join(_CONTROLS.sub("", message).split())
    if len(message) > _ERROR_MAX_CHARS:
        message = message[: _ERROR_MAX_CHARS - 1] + "…"
    return message


def _finish(raw: ExtractedText, max_chars: int, guess: bool) -> ExtractedText:
    text = normalise_text(raw.text)
    cut = len(text) > max_chars
    if cut:
        text = text[:max_chars]
    # A declared language is the file's own text: bounded, like any other untrusted field.
    hint = (_sentence(raw.language_hint) or "")[:35] or None
    return replace(
        raw,
        text=text,
        language_hint=hint or (guess_language(text) if guess else None),
        truncated=raw.truncated or cut,
        error=_sentence(raw.error),
        ocr_reason=_sentence(raw.ocr_reason),
    )


def extract_text(
    path: Path,
    media_type: str,
    *,
    transcript: Path | None = None,
    ocr: bool = True,
    max_chars: int = 2_000_000,
    time_limit: float = TIME_LIMIT_SECONDS,
    guess: bool = True,
) -> ExtractedText:
    """The text of the file at ``path`` of type ``media_type``; never raises.

    ``transcript`` (a ``.vtt``, ``.srt`` or plain text file, found by
    :func:`artefacts.companions.find_transcript`) is used as the text instead of the file's
    own, whatever ``media_type`` is. ``ocr=False`` turns OCR off (the result says it was
    skipped where it was needed). ``time_limit`` (seconds) bounds the whole extraction: past
    it, extractors stop between pages and the result is ``truncated``. A type with no
    extractor gives empty text, method ``none``. ``guess=False`` leaves ``language_hint``
    to what the file itself declares (the caller knows the language: no guess is needed).
    """
    max_chars = max(0, max_chars)
    request = ExtractRequest(
        path=path,
        media_type=media_type.lower().split(";", 1)[0].strip(),
        ocr=ocr,
        max_chars=max_chars,
        deadline=time.monotonic() + time_limit,
    )
    try:
        if transcript is not None:
            from artefacts.extractors.transcript import extract_transcript

            raw = extract_transcript(transcript, request)
        else:
            fn = extractor_for(media_type)
            raw = fn(request) if fn is not None else ExtractedText(text="", method="none")
    except MemoryError:
        raw = ExtractedText("", "none", error="the text could not be extracted: out of memory")
    except Exception as e:
        # A library's surprise on a hostile file must not stop an ingest.
        _log.debug("extracting text of %s (%s) failed", path, media_type, exc_info=True)
        what = "transcript" if transcript is not None else "file"
        raw = ExtractedText(
            "",
            "none",
            error=f"the text of the {what} could not be extracted ({type(e).__name__}: {e})",
        )
    return _finish(raw, max_chars, guess)


def _register_builtin() -> None:
    from artefacts.extractors import av, docx_text, html_text, ocr, pdf_text, plain, transcript

    register_extractor("text/", plain.extract_plain)
    for structured_text in ("application/yaml", "application/json", "application/xml"):
        register_extractor(structured_text, plain.extract_plain)
    for markup in ("text/html", "application/xhtml+xml", "image/svg+xml"):
        register_extractor(markup, html_text.extract_html)
    for cues in ("text/vtt", "application/x-subrip", "text/srt"):
        register_extractor(cues, transcript.extract_vtt)
    register_extractor("application/pdf", pdf_text.extract_pdf)
    register_extractor(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        docx_text.extract_docx,
    )
    register_extractor("image/", ocr.extract_image)
    register_extractor("audio/", av.extract_av)
    register_extractor("video/", av.extract_av)


_register_builtin()
