"""Technical metadata handlers: on the samples, on damaged files, and on huge ones."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from artefacts import handlers
from artefacts.handlers import extract_technical, handler_for, register, text

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "villa-quintral"
JPEG = SAMPLES / "placa_memorial.jpg"
PDF = SAMPLES / "carta_comite_1976.pdf"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "encoding", "bom", "lines", "characters"),
    [
        ("Sepúlveda\nRíos\n".encode(), "utf-8", False, 2, 15),
        ("\ufeffSepúlveda\r\nRíos".encode(), "utf-8", True, 2, 15),
        ("Declaración — Sepúlveda\r\n".encode("cp1252"), "windows-1252", False, 1, 25),
        (b"caf\xe9 \x81", "iso-8859-1", False, 1, 6),  # 0x81 is undefined in Windows-1252
        ("\ufeffaño\n".encode("utf-16-le"), "utf-16-le", True, 1, 4),
        (b"one\rtwo\rthree", "utf-8", False, 3, 13),  # old Mac line ends
        (b"", "utf-8", False, 0, 0),
    ],
)
def test_text_encodings_and_counts(
    tmp_path: Path, data: bytes, encoding: str, bom: bool, lines: int, characters: int
) -> None:
    path = write(tmp_path, "t.txt", data)
    assert extract_technical(path, "text/plain") == {
        "encoding": encoding,
        "bom": bom,
        "lines": lines,
        "characters": characters,
        "truncated": False,
    }


def test_text_sample_is_capped_and_a_cut_character_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text, "SAMPLE_BYTES", 10)
    path = write(tmp_path, "t.txt", "abcdefghiñ and much more\n".encode())  # ñ straddles byte 10
    result = extract_technical(path, "text/plain")
    assert result["encoding"] == "utf-8" and result["truncated"] is True
    assert result["characters"] == 9


def test_image_exif_of_the_sample_photo() -> None:
    assert extract_technical(JPEG, "image/jpeg") == {
        "format": "JPEG",
        "width": 640,
        "height": 480,
        "mode": "RGB",
        "camera_make": "Constancia Samples",
        "camera_model": "Fictional Camera 1",
        "datetime_original": "2023-09-11T10:30:00",
        "gps": {"latitude": -33.5861667, "longitude": -70.8341944, "altitude": 420.0},
    }


def test_truncated_jpeg_is_reported_not_crashed(tmp_path: Path) -> None:
    data = JPEG.read_bytes()
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    result = extract_technical(path, "image/jpeg")
    assert result["format"] == "JPEG" and "cut short" in result["error"]
    assert result["width"] == 640  # what could be read is still reported


def test_garbage_image(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jpg", b"\xff\xd8\xff" + b"garbage" * 100)
    result = extract_technical(path, "image/jpeg")
    assert result["format"] == "JPEG" and "error" in result


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(min(height, 4)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_an_error_not_a_decode(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.png", _png(50_000, 50_000))  # claims 2.5 gigapixels
    result = extract_technical(path, "image/png")
    assert result["format"] == "PNG" and "decompression bomb" in result["error"]


def test_image_just_over_the_limit_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = write(tmp_path, "big.png", _png(40, 40))  # past the limit, under twice it: a warning
    assert "decompression bomb" in extract_technical(path, "image/png")["error"]


def test_small_png_without_exif(tmp_path: Path) -> None:
    path = write(tmp_path, "p.png", _png(4, 4))
    assert extract_technical(path, "image/png") == {
        "format": "PNG",
        "width": 4,
        "height": 4,
        "mode": "L",
    }


def test_pdf_sample() -> None:
    assert extract_technical(PDF, "application/pdf") == {
        "pdf_version": "1.4",
        "encrypted": False,
        "pages": 1,
        "title": "Carta al Juzgado de Letras (MUESTRA FICTICIA)",
        "author": "Comité Parroquial de Ayuda de Villa Quintral (ficticio)",
        "creation_date": "2024-03-01T10:20:00-03:00",
    }


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n",  # garbage with an end marker
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n",
        b"%PDF-1.4\n" + b"\x00" * 100,  # no end marker
    ],
)
def test_broken_pdfs_are_reported(tmp_path: Path, data: bytes) -> None:
    result = extract_technical(write(tmp_path, "b.pdf", data), "application/pdf")
    assert result["pdf_version"] == "1.4" and "error" in result


def test_truncated_pdf(tmp_path: Path) -> None:
    data = PDF.read_bytes()
    result = extract_technical(
        write(tmp_path, "cut.pdf", data[: len(data) // 2]), "application/pdf"
    )
    assert "cut short" in result["error"]


def _encrypt(tmp_path: Path, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(PDF))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as f:
        writer.write(f)
    return path


def test_password_protected_pdf(tmp_path: Path) -> None:
    result = extract_technical(_encrypt(tmp_path, "secret"), "application/pdf")
    assert result["encrypted"] is True and "password" in result["error"]


def test_pdf_encrypted_without_a_user_password_is_read(tmp_path: Path) -> None:
    result = extract_technical(_encrypt(tmp_path, ""), "application/pdf")
    assert result["encrypted"] is True and result["pages"] == 1


def test_registry_exact_prefix_and_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_EXACT", dict(handlers._EXACT))
    monkeypatch.setattr(handlers, "_PREFIXES", dict(handlers._PREFIXES))

    def special(path: Path, media_type: str) -> dict[str, Any]:
        return {"special": media_type}

    register("image/x-special", special)
    assert handler_for("image/x-special") is special
    assert handler_for("IMAGE/PNG; q=1") is not special and handler_for("image/png") is not None
    assert handler_for("application/octet-stream") is None
    assert extract_technical(Path("/nonexistent"), "application/octet-stream") == {}


def test_a_failing_handler_becomes_an_error_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_EXACT", dict(handlers._EXACT))

    def broken(path: Path, media_type: str) -> dict[str, Any]:
        raise RuntimeError("boom")

    def odd(path: Path, media_type: str) -> dict[str, Any]:
        return {"ratio": float("nan"), "raw": b"\xffx", "when": Path("/x"), "list": (1, 2)}

    register("application/x-broken", broken)
    register("application/x-odd", odd)
    assert extract_technical(Path("/x"), "application/x-broken") == {
        "error": "the file could not be examined (RuntimeError: boom)"
    }
    assert json.dumps(extract_technical(Path("/x"), "application/x-odd"))
    assert extract_technical(tmp_missing := Path("/nonexistent.txt"), "text/plain")["error"]
    assert not tmp_missing.exists()


def _bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
@pytest.mark.parametrize(
    ("name", "media_type", "head"),
    [
        ("big.txt", "text/plain", b"hola\n"),
        ("big.jpg", "image/jpeg", JPEG.read_bytes()[:4000]),
        ("big.pdf", "application/pdf", b"%PDF-1.4\n"),
        ("big2.pdf", "application/pdf", PDF.read_bytes()),
        ("big.png", "image/png", _png(4, 4)),
    ],
)
def test_a_1_gib_file_is_not_read_whole(
    tmp_path: Path, name: str, media_type: str, head: bytes
) -> None:
    path = tmp_path / name
    with path.open("wb") as f:
        f.write(head)
        f.truncate(1 << 30)  # sparse: costs no disk
    if name == "big2.pdf":
        with path.open("r+b") as f:  # a valid end marker at the very end
            f.seek((1 << 30) - 6)
            f.write(b"%%EOF\n")
    before = _bytes_read()
    result = extract_technical(path, media_type)
    assert _bytes_read() - before < 8 * 1024 * 1024, result
