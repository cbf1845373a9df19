"""DOCX (Word 2007 and later) to text with python-docx: paragraphs and tables in document
order, then the headers and footers.

python-docx loads every part of the package into memory, pictures and videos included. So
it is given a copy in memory that holds only the XML parts (each checked against its
declared size, which also stops a ZIP bomb); the pictures are left empty, since they carry
no text. Table cells are separated by tabs and rows by line breaks; a merged cell is written
once.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from artefacts.extractors.result import ExtractedText, ExtractRequest

#: The XML parts of a document together may not exceed this, unpacked.
XML_MAX_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 10_000
_XML_SUFFIXES = (".xml", ".rels")


class _Refused(Exception):
    pass


def _xml_only_copy(source: zipfile.ZipFile) -> io.BytesIO:
    members = source.infolist()
    if len(members) > MAX_MEMBERS:
        raise _Refused(f"the document has more than {MAX_MEMBERS} parts, so it was not opened")
    if "word/document.xml" not in {m.filename for m in members}:
        raise _Refused("the file is not a Word document: it has no word/document.xml part")
    total = sum(m.file_size for m in members if m.filename.lower().endswith(_XML_SUFFIXES))
    if total > XML_MAX_BYTES:
        raise _Refused("the document's text parts are too large to read")
    copy = io.BytesIO()
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as out:
        for member in members:
            keep = member.filename.lower().endswith(_XML_SUFFIXES)
            # ZipExtFile stops at the declared size, so the total above bounds what is read.
            out.writestr(member.filename, source.read(member) if keep else b"")
    copy.seek(0)
    return copy


def _row_text(row: Any) -> str:
    cells: list[str] = []
    previous = None
    for cell in row.cells:
        if cell._tc is previous:  # a merged cell is listed once per grid column it spans
            continue
        previous = cell._tc
        cells.append(" ".join(_blocks(cell)).replace("\n", " "))
    return "\t".join(cells)


def _blocks(container: Any) -> list[str]:
    """Paragraphs and table rows of a body, cell, header or footer, in order."""
    from docx.table import Table

    lines: list[str] = []
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_row_text(row) for row in block.rows)
            lines.append("")
        else:
            lines.append(block.text)
    return lines


def _headers_and_footers(document: Any) -> list[str]:
    seen: set[str] = set()
    lines: list[str] = []
    for section in document.sections:
        for part in (section.header, section.footer):
            if part.is_linked_to_previous:
                continue
            text = "\n".join(_blocks(part)).strip()
            if text and text not in seen:
                seen.add(text)
                lines += ["", text]
    return lines


def _language(document: Any) -> str | None:
    declared = (document.core_properties.language or "").strip()
    if declared:
        return str(declared)[:35]
    found = document.styles.element.xpath("./w:docDefaults/w:rPrDefault/w:rPr/w:lang/@w:val")
    return str(found[0])[:35] if found else None


def extract_docx(request: ExtractRequest) -> ExtractedText:
    """The text of a Word document; ``error`` (a sentence) if it is damaged."""
    import docx

    try:
        with zipfile.ZipFile(request.path) as source:
            copy = _xml_only_copy(source)
    except _Refused as e:
        return ExtractedText(text="", method="none", error=str(e))
    except zipfile.BadZipFile:
        error = "the file is not a readable Word document: it is damaged or not a ZIP archive"
        return ExtractedText(text="", method="none", error=error)
    try:
        document = docx.Document(copy)
    except Exception as e:
        # python-docx and lxml raise many kinds of errors on a damaged package.
        error = f"the Word document is damaged and cannot be read ({type(e).__name__}: {e})"
        return ExtractedText(text="", method="none", error=error)
    lines = _blocks(document) + _headers_and_footers(document)
    return ExtractedText(text="\n".join(lines), method="docx", language_hint=_language(document))
