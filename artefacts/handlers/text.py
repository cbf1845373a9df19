"""Plain text: its encoding, and how many lines and characters it has.

Field material comes from old Windows machines as often as from phones, so a file that is not
UTF-8 is read as Windows-1252 (or, where that fails, ISO-8859-1) rather than rejected. Only
the first :data:`SAMPLE_BYTES` are read; ``truncated`` says the counts cover only those.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

SAMPLE_BYTES = 4 * 1024 * 1024

#: Byte-order marks and their encodings, longest first (UTF-32 LE starts like UTF-16 LE).
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _decode(data: bytes, encoding: str, final: bool) -> str:
    # Not final when the sample was cut: a character split by the cut is not an error.
    return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)


def detect_encoding(data: bytes, *, complete: bool = True) -> tuple[str, bool, str]:
    """(encoding, has a byte order mark, decoded text) of a text sample.

    ``complete`` is False when ``data`` is only the start of the file.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return encoding, True, _decode(data[len(bom) :], encoding, complete)
            except UnicodeDecodeError:
                break
    for encoding in ("utf-8", "windows-1252"):
        try:
            return encoding, False, _decode(data, encoding, complete)
        except UnicodeDecodeError:
            continue
    # Latin-1 decodes every byte; Windows-1252 leaves five undefined.
    return "iso-8859-1", False, data.decode("iso-8859-1")


def count_lines(text: str) -> int:
    """Lines as an editor shows them: a last line without newline still counts."""
    newline = "\n" if "\n" in text or "\r" not in text else "\r"
    return text.count(newline) + (1 if text and not text.endswith(newline) else 0)


def text_technical(path: Path, media_type: str) -> dict[str, Any]:
    """Encoding, byte order mark, line and character counts of a text file."""
    del media_type
    with path.open("rb") as f:
        data = f.read(SAMPLE_BYTES + 1)
    truncated = len(data) > SAMPLE_BYTES
    data = data[:SAMPLE_BYTES]
    encoding, bom, text = detect_encoding(data, complete=not truncated)
    return {
        "encoding": encoding,
        "bom": bom,
        "lines": count_lines(text),
        "characters": len(text),
        "truncated": truncated,
    }
