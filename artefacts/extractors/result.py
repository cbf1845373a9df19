"""What an extractor is given and what it returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

OcrState: TypeAlias = Literal["not-needed", "done", "skipped"]


@dataclass(frozen=True)
class ExtractedText:
    """The text of one file, and how it was obtained.

    ``method`` names the route (``plain:utf-8``, ``pdf-text``, ``pdf-text+ocr``, ``docx``,
    ``html``, ``ocr:tesseract``, ``transcript:vtt``, ``none``, ...). ``ocr`` is ``"skipped"``
    when the file needed OCR that was not done; ``ocr_reason`` then says why in a sentence.
    ``truncated`` means the text covers only the start of the file (a size or time limit).
    ``error`` is a plain sentence when extraction failed in part or in whole; ``text`` then
    holds whatever was recovered.
    """

    text: str
    method: str
    language_hint: str | None = None
    ocr: OcrState = "not-needed"
    ocr_reason: str | None = None
    truncated: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ExtractRequest:
    """One extraction: the file, its media type, and the limits an extractor must keep.

    Extractors stop reading once they hold about ``max_chars`` characters, and check
    :meth:`out_of_time` between pages or chunks (``deadline`` is a ``time.monotonic()`` value).
    """

    path: Path
    media_type: str
    ocr: bool
    max_chars: int
    deadline: float

    def time_left(self) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.deadline - time.monotonic()

    def out_of_time(self) -> bool:
        """True once the deadline has passed."""
        return self.time_left() <= 0


#: An extractor turns a request into text; it may raise, ``extract_text`` catches.
Extractor: TypeAlias = Callable[[ExtractRequest], ExtractedText]
