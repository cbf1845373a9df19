"""Derived files: what is extracted from an original, kept in its OCFL object beside it.

Extracted text (from the file itself, OCR, or a transcript sidecar), a JPEG preview of an
image, and the transcript's own bytes. Each is a content file with its own digests, listed in
the signed record; the original is never touched. Keeping them means the index can always be
rebuilt without running OCR again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive import ocfl
from archive.fsutil import write_file
from archive.hashing import sha256_hex, sha512_hex
from artefacts.extract import extract_text
from artefacts.thumbnail import make_thumbnail

TEXT_PATH = "derived/text.txt"
THUMBNAIL_PATH = "derived/thumbnail.jpg"


@dataclass
class Derived:
    """The derived files written into a version's content folder."""

    entries: list[ocfl.FileEntry] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # goes into the record as "derived"
    text: str = ""


def _put(content_dir: Path, logical: str, data: bytes, out: Derived) -> dict[str, Any]:
    path = content_dir / logical
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, data, fsync=False)
    sha256 = sha256_hex(data)
    out.entries.append(ocfl.FileEntry(logical, sha512_hex(data), sha256))
    return {"path": logical, "sha256": sha256, "size": len(data)}


def write_derived(
    content_dir: Path,
    original: Path,
    media_type: str,
    *,
    transcript: Path | None = None,
    ocr: bool = True,
    guess_language: bool = True,
) -> Derived:
    """Extract from ``original`` (already inside ``content_dir``) and write the derived files
    beside it. Extraction problems are recorded in ``info``, never raised. The text's
    language is guessed only if ``guess_language`` (the metadata declares none)."""
    out = Derived()
    extracted = extract_text(
        original, media_type, transcript=transcript, ocr=ocr, guess=guess_language
    )
    text_info: dict[str, Any] = {"method": extracted.method, "ocr": extracted.ocr}
    if extracted.ocr_reason:
        text_info["ocr_reason"] = extracted.ocr_reason
    if extracted.language_hint:
        text_info["language_guess"] = extracted.language_hint
    if extracted.truncated:
        text_info["truncated"] = True
    if extracted.error:
        text_info["error"] = extracted.error
    if extracted.text.strip():
        text_info.update(_put(content_dir, TEXT_PATH, extracted.text.encode("utf-8"), out))
        text_info["characters"] = len(extracted.text)
        out.text = extracted.text
    out.info["text"] = text_info
    thumb = make_thumbnail(original, media_type)
    if thumb is not None:
        out.info["thumbnail"] = _put(content_dir, THUMBNAIL_PATH, thumb, out)
    if transcript is not None:
        try:
            data = transcript.read_bytes()
        except OSError as e:
            out.info["transcript"] = {"error": f"the transcript could not be read ({e.strerror})"}
        else:
            suffix = (
                "".join(transcript.suffixes[-2:])
                if transcript.name.endswith(".transcript.txt")
                else transcript.suffix
            )
            info = _put(content_dir, f"derived/transcript{suffix}", data, out)
            info["name"] = os.fsencode(transcript.name).decode("utf-8", "replace")
            out.info["transcript"] = info
    return out
