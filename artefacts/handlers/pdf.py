"""PDF: version, page count, and the document information (title, author, creation date).

The file is given to pypdf as an open file, not a path, so that pypdf reads only the parts it
needs instead of the whole file. A PDF without an end-of-file marker near its end is reported
as cut short without asking pypdf to rebuild it (which would read everything). Above
:data:`REPAIR_MAX_BYTES` pypdf runs strict and the ``startxref`` pointer must be near the end,
so damaged large files fail fast instead of being scanned.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

REPAIR_MAX_BYTES = 16 * 1024 * 1024
_TAIL_BYTES = 64 * 1024
_HEADER = re.compile(rb"%PDF-(\d\.\d)")
_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def _pdf_date(raw: Any) -> str | None:
    """A PDF date ``D:19760312...`` as ISO 8601, to the precision given; other text as is."""
    text = _clean(raw)
    if text is None:
        return None
    m = _PDF_DATE.match(text)
    if m is None:
        return text
    year, month, day, hour, minute, second = m.groups()
    iso = year + (f"-{month}" if month else "") + (f"-{day}" if month and day else "")
    if day and hour:
        iso += f"T{hour}:{minute or '00'}:{second or '00'}"
        zone = text[m.end() :].replace("'", "")
        if zone.startswith("Z"):
            iso += "Z"
        elif re.fullmatch(r"[+-]\d{4}", zone[:5]):
            iso += f"{zone[:3]}:{zone[3:5]}"
    return iso


def _version(head: bytes) -> str | None:
    m = _HEADER.search(head)
    return m.group(1).decode() if m else None


def pdf_technical(path: Path, media_type: str) -> dict[str, Any]:
    """Version, page count, encryption and document information of a PDF; ``error`` if broken."""
    del media_type
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf reports every repair it makes as a warning; they are noise next to our summary.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    info: dict[str, Any] = {}
    size = path.stat().st_size
    with path.open("rb") as f:
        info["pdf_version"] = _version(f.read(1024))
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read(_TAIL_BYTES)
        if b"%%EOF" not in tail:
            info["error"] = "the PDF has no end-of-file marker: it is cut short or damaged"
            return info
        if size > REPAIR_MAX_BYTES and b"startxref" not in tail:
            # pypdf would search backwards through the whole file for it.
            info["error"] = "the PDF has no cross-reference pointer near its end: it is damaged"
            return info
        f.seek(0)
        try:
            reader = PdfReader(f, strict=size > REPAIR_MAX_BYTES)
            info["encrypted"] = reader.is_encrypted
            if reader.is_encrypted and not reader.decrypt(""):
                info["error"] = "the PDF is protected by a password, so its details cannot be read"
                return info
            info["pages"] = len(reader.pages)
            document: Any = reader.metadata or {}
            found = {
                "title": _clean(document.get("/Title")),
                "author": _clean(document.get("/Author")),
                "creation_date": _pdf_date(document.get("/CreationDate")),
            }
            info.update({k: v for k, v in found.items() if v is not None})
        except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as e:
            info["error"] = f"the PDF is damaged and cannot be read ({e})"
    return info
