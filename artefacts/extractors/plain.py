"""Plain text and Markdown: decoded with encoding detection, never failing on bad bytes.

Old Chilean files come from Windows machines as often as field notes come from phones, so a
file is read as UTF-8 when it is (mostly) UTF-8 and as Windows-1252 otherwise. Latin-1 text
decodes the same under Windows-1252, which only adds curly quotes and dashes where Latin-1 has
unused control codes. Markdown is kept as it is written: its markup is text for search.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from artefacts.extractors.result import ExtractedText, ExtractRequest
from artefacts.handlers.text import BOMS

#: Labels that, as in every browser (WHATWG Encoding), mean Windows-1252.
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii"}
#: 0x80-0x9F as Windows-1252 reads them; its five undefined bytes stay C1 controls (removed
#: later as control characters) instead of failing the decode.
_C1_AS_1252 = {b: bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(0x80, 0xA0)}


def read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes from the start of ``path``, and whether that is the whole file."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return data[:limit], len(data) <= limit


def byte_budget(max_chars: int) -> int:
    """How many bytes to read for ``max_chars`` characters: UTF-8 takes up to 4 per character."""
    return max(4096, max_chars * 4 + 4)


def _windows_1252(data: bytes) -> tuple[str, str]:
    text = data.decode("latin-1")
    undefined = any(b in data for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
    text = text.translate(_C1_AS_1252)
    # Same labels as the technical handler (artefacts.handlers.text) reports.
    return text, "iso-8859-1" if undefined else "windows-1252"


def _declared(data: bytes, declared: str, complete: bool) -> tuple[str, str] | None:
    label = declared.strip().lower()
    if label in _WINDOWS_1252_LABELS or label in {"windows-1252", "cp1252"}:
        return _windows_1252(data)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    decoder = codecs.getincrementaldecoder(name)("replace")
    return decoder.decode(data, final=complete), name


def decode_text(
    data: bytes, *, complete: bool = True, declared: str | None = None
) -> tuple[str, str]:
    """(text, encoding label) of ``data``; never fails.

    A byte order mark wins, then a ``declared`` charset (from an HTML ``<meta>``), then
    UTF-8, then Windows-1252. A file that is mostly UTF-8 with a few bad bytes stays UTF-8
    (the bad bytes become U+FFFD) rather than turning every accent into mojibake.
    ``complete`` is False when ``data`` is only the start of a file: a character cut in half
    by the end of the sample is then dropped, not an error.
    """
    for bom, name in BOMS:
        if data.startswith(bom):
            decoder = codecs.getincrementaldecoder(name)("replace")
            return decoder.decode(data[len(bom) :], final=complete), name
    if declared:
        found = _declared(data, declared, complete)
        if found is not None:
            return found
    try:
        return codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=complete), "utf-8"
    except UnicodeDecodeError:
        pass
    lenient = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=complete)
    bad = lenient.count("\ufffd")
    good = sum(1 for c in lenient if c > "\x7f" and c != "\ufffd")
    if good > bad:
        return lenient, "utf-8 (bad bytes replaced)"
    return _windows_1252(data)


def extract_plain(request: ExtractRequest) -> ExtractedText:
    """Text files, Markdown, CSV, JSON, YAML, XML: the decoded text, markup and all."""
    data, complete = read_head(request.path, byte_budget(request.max_chars))
    text, encoding = decode_text(data, complete=complete)
    return ExtractedText(text=text, method=f"plain:{encoding}", truncated=not complete)
