"""Media types (MIME types) of originals: from their bytes first, their name second.

The first bytes of a file are better evidence than its name: a photo renamed ``.txt`` is still
a JPEG. The name is used only when the bytes say nothing (plain text, CSV, ...), then the
bytes are sniffed for text. The table of names is Python's built-in one plus a few additions,
never the machine's ``/etc/mime.types``, so every machine gives the same answer.
"""

from __future__ import annotations

import mimetypes
import zipfile
from pathlib import Path

#: How many leading bytes callers should pass as ``head``.
HEAD_SIZE = 8192
OCTET_STREAM = "application/octet-stream"

_NAMES = mimetypes.MimeTypes(filenames=())
for _type, _ext in (
    ("text/markdown", ".md"),
    ("text/markdown", ".markdown"),
    ("text/vtt", ".vtt"),
    ("image/webp", ".webp"),
    ("image/heic", ".heic"),
    ("image/heif", ".heif"),
    ("image/avif", ".avif"),
    ("audio/flac", ".flac"),
    ("audio/ogg", ".ogg"),
    ("audio/ogg", ".opus"),
    ("audio/mp4", ".m4a"),
    ("audio/wav", ".wav"),
    ("video/webm", ".webm"),
    ("video/x-matroska", ".mkv"),
    ("application/vnd.oasis.opendocument.text", ".odt"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    ("text/plain", ".log"),
    ("application/yaml", ".yaml"),
    ("application/yaml", ".yml"),
):
    _NAMES.add_type(_type, _ext)

_OOXML = "application/vnd.openxmlformats-officedocument."
_OOXML_PARTS = {
    "word/document.xml": _OOXML + "wordprocessingml.document",
    "xl/workbook.xml": _OOXML + "spreadsheetml.sheet",
    "ppt/presentation.xml": _OOXML + "presentationml.presentation",
}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_FTYP_BRANDS = {
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4V ": "video/x-m4v",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}
_SIMPLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),  # BigTIFF
    (b"MM\x00+", "image/tiff"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"#!AMR", "audio/amr"),
    (b"{\\rtf", "application/rtf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


def media_type_from_name(name: str) -> str | None:
    """The media type Python's built-in table (plus ours) gives a file name, or None."""
    guessed, encoding = _NAMES.guess_type(name, strict=False)
    if encoding is not None:
        # "notes.txt.gz" is a gzip file, not text.
        return _COMPRESSED.get(encoding, OCTET_STREAM)
    return guessed


def _riff(head: bytes) -> str | None:
    form = head[8:12]
    return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(form)


def _ftyp(head: bytes) -> str:
    major = head[8:12]
    if major in _HEIF_BRANDS:
        return "image/heic"
    return _FTYP_BRANDS.get(major, "video/mp4")


def _ebml(head: bytes) -> str:
    return "video/webm" if b"webm" in head[:4096] else "video/x-matroska"


def _ogg(head: bytes) -> str:
    return "video/ogg" if b"\x80theora" in head[:4096] else "audio/ogg"


def _odf_mimetype(head: bytes) -> str | None:
    """ODF and EPUB store an uncompressed "mimetype" entry first: its text is in ``head``."""
    method = int.from_bytes(head[8:10], "little")
    size = int.from_bytes(head[18:22], "little")
    name_len = int.from_bytes(head[26:28], "little")
    extra_len = int.from_bytes(head[28:30], "little")
    if method != 0 or head[30 : 30 + name_len] != b"mimetype" or not 0 < size <= 100:
        return None
    start = 30 + name_len + extra_len
    declared = head[start : start + size].decode("ascii", "replace")
    return declared if declared.startswith("application/") and declared.isprintable() else None


def _zip(path: Path, head: bytes) -> str:
    declared = _odf_mimetype(head)
    if declared is not None:
        return declared
    try:
        # Reads only the central directory at the end of the file, not the members.
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
                # An ODF file whose "mimetype" member was (wrongly) compressed.
                declared = archive.read("mimetype").decode("ascii", "replace")
                if declared.startswith("application/") and declared.isprintable():
                    return declared
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return "application/zip"
    for part, media_type in _OOXML_PARTS.items():
        if part in names:
            return media_type
    return "application/zip"


def _bmp(head: bytes) -> bool:
    # "BM" alone starts many a text; the header's reserved bytes are zero in real bitmaps.
    return head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00"


def _mpeg_audio(head: bytes) -> str | None:
    """An MP3 without ID3 tag, or raw AAC (ADTS), from its first frame header."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] in (0xFE, 0xFF):
        return None  # a UTF-16 byte order mark, or padding
    layer = (head[1] >> 1) & 0b11
    if layer == 0:
        return "audio/aac" if head[1] & 0xF6 == 0xF0 else None
    version = (head[1] >> 3) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if version == 0b01 or bitrate == 0xF or rate == 0b11:
        return None
    return "audio/mpeg"


def _from_magic(path: Path, head: bytes) -> str | None:
    for magic, media_type in _SIMPLE_MAGIC:
        if head.startswith(magic):
            return media_type
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _riff(head)
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(head)
    if head.startswith(b"OggS"):
        return _ogg(head)
    if _bmp(head):
        return "image/bmp"
    if head.startswith(b"PK\x03\x04"):
        return _zip(path, head)
    if b"%PDF-" in head[:1024]:
        # PDF readers accept junk before the header, and so do scanners' files.
        return "application/pdf"
    start = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith(_HTML_STARTS):
        return "text/html"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with its byte order mark
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        # A multi-byte character cut by the end of ``head`` is still text.
        if e.start >= len(head) - 3 and e.reason == "unexpected end of data":
            return True
    printable = sum(1 for b in head if b >= 0x20 or b in (0x09, 0x0A, 0x0D, 0x0C))
    return printable / len(head) >= 0.95


def detect_media_type(path: Path, head: bytes) -> str:
    """The media type of the file at ``path`` whose first bytes are ``head``.

    Pass at least HEAD_SIZE bytes when the file has them. Magic bytes decide first, then the
    file name, then weaker signs (an MP3 frame header, text); otherwise application/octet-stream.
    Reads nothing but ``head``, except a ZIP's central directory to tell DOCX from ZIP.
    """
    by_magic = _from_magic(path, head)
    if by_magic is not None:
        return by_magic
    by_name = media_type_from_name(path.name)
    if by_name is not None:
        return by_name
    # Frame-sync bytes are a weak sign, so they count only when the name says nothing.
    by_frame = _mpeg_audio(head)
    if by_frame is not None:
        return by_frame
    return "text/plain" if _looks_like_text(head) else OCTET_STREAM
