"""Media types from magic bytes first, then the name, then a look at the text."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from artefacts.media import detect_media_type, media_type_from_name

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"

MAGIC = [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    (b"\r\n%PDF-1.4\n", "application/pdf"),  # junk before the header
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heif"),
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image/bmp"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"fLaC\x00\x00\x00\x22", "audio/flac"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x1eOpusHead", "audio/ogg"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom", "audio/mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
    (b"<!DOCTYPE html>\n<html>", "text/html"),
    (b"\xef\xbb\xbf  <html lang='es'>", "text/html"),
    (b"<HTML><BODY>", "text/html"),
]


@pytest.mark.parametrize(("head", "expected"), MAGIC)
def test_magic_bytes_win_over_the_name(tmp_path: Path, head: bytes, expected: str) -> None:
    # The name lies on purpose: bytes are better evidence than names.
    path = tmp_path / "renamed.txt"
    path.write_bytes(head)
    assert detect_media_type(path, head) == expected


def _zip(path: Path, members: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (name, data) in enumerate(members):
            kind = zipfile.ZIP_STORED if stored_first and i == 0 else zipfile.ZIP_DEFLATED
            z.writestr(name, data, compress_type=kind)
    return path.read_bytes()[:8192]


def test_docx_is_told_from_zip_by_its_parts(tmp_path: Path) -> None:
    members = [
        ("[Content_Types].xml", b"<Types/>"),
        ("_rels/.rels", b"<r/>"),
        ("word/document.xml", b"<w:document/>"),
    ]
    path = tmp_path / "carta.bin"
    assert detect_media_type(path, _zip(path, members)) == DOCX


def test_odt_is_told_by_its_mimetype_member(tmp_path: Path) -> None:
    path = tmp_path / "carta"
    head = _zip(path, [("mimetype", ODT.encode()), ("content.xml", b"<x/>")], stored_first=True)
    assert detect_media_type(path, head) == ODT


def test_odt_with_a_compressed_mimetype_member(tmp_path: Path) -> None:
    path = tmp_path / "carta.zip"
    assert detect_media_type(path, _zip(path, [("mimetype", ODT.encode())])) == ODT


def test_plain_zip_and_broken_zip(tmp_path: Path) -> None:
    path = tmp_path / "fotos.docx"
    assert detect_media_type(path, _zip(path, [("a.jpg", b"x")])) == "application/zip"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert detect_media_type(broken, broken.read_bytes()) == "application/zip"


NAMES = [
    ("testimonio.txt", b"Declaro que", "text/plain"),
    ("testimonio.md", b"# Testimonio", "text/markdown"),
    ("entrevista.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nHola", "text/vtt"),
    ("lista.csv", b"nombre,fecha\n", "text/csv"),
    ("datos.json", b"{}", "application/json"),
    ("notas.yaml", b"title: x", "application/yaml"),
    ("carta.docx", b"not really a zip", DOCX),
    ("notas.txt.gz", b"not really gzip", "application/gzip"),
    ("SIN_EXTENSION", "Declaración de Elena Ríos".encode(), "text/plain"),
    ("SIN_EXTENSION", "Declaración — Sepúlveda".encode("cp1252"), "text/plain"),
    ("SIN_EXTENSION", "año".encode()[:-2], "text/plain"),  # a character cut by the head's end
    ("SIN_EXTENSION", "\ufeffhola".encode("utf-16-le"), "text/plain"),
    ("SIN_EXTENSION", b"\x00\x01\x02\x03binary\x00", "application/octet-stream"),
    ("SIN_EXTENSION", bytes(range(256)), "application/octet-stream"),
    ("SIN_EXTENSION", b"", "application/octet-stream"),
    ("vacío.txt", b"", "text/plain"),
    ("SIN_EXTENSION", b"\xff\xfb\x90\x64" + b"\x00" * 20, "audio/mpeg"),  # MP3 frame, no ID3
    ("SIN_EXTENSION", b"\xff\xf1\x50\x80" + b"\x00" * 20, "audio/aac"),
    ("BMW informe.txt", b"BMW y otros autos", "text/plain"),  # "BM" alone is not a bitmap
]


@pytest.mark.parametrize(("name", "head", "expected"), NAMES)
def test_name_then_text_sniffing(tmp_path: Path, name: str, head: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(head)
    assert detect_media_type(path, head) == expected


def test_name_table_is_python_s_own_not_the_machine_s() -> None:
    assert media_type_from_name("x.md") == "text/markdown"
    assert media_type_from_name("x.unknownext") is None
