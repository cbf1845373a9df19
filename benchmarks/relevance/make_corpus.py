"""Write the relevance corpus's files that are not plain text.

FICTIONAL SAMPLE — invented for Constancia's relevance benchmark; no real person, place or event.
MUESTRA FICTICIA — inventada para el banco de relevancia de Constancia; nada de esto es real.

Run once from the repository root (``.venv/bin/python benchmarks/relevance/make_corpus.py``);
the outputs are committed, so that their bytes (and artefact IDs) stay the same everywhere.
Deterministic: no clock, no unseeded randomness. It writes, into ``corpus/``:

- ``oficio_fiscalia_1992.pdf``: a one-page court order with a real text layer (Helvetica,
  WinAnsiEncoding, written by hand here); its words exist only inside the PDF;
- ``libro_guardia_pagina.png``: a scanned-looking page of a guard-post logbook, text drawn
  with DejaVu Sans Mono; its words exist only in the pixels, for OCR;
- ``oficio_escaneado_1975.pdf``: an image-only PDF (one JPEG page, no text layer), so that
  only OCR of the rasterised page finds its words;
- ``mural_nueva_aurora.jpg``: a drawn "photo" of a mural with no text at all, found only by
  its sidecar.

``--check`` also runs Tesseract on the two scans and prints what it reads.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent / "corpus"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),  # Debian fonts-dejavu-core
    Path("/usr/share/fonts/TTF/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSansMono.ttf"),
)
NOTICE_ES = "MUESTRA FICTICIA — inventada para el banco de relevancia de Constancia."
NOTICE_EN = "FICTIONAL SAMPLE — invented for Constancia's relevance benchmark."

PDF_LINES = [
    NOTICE_ES,
    NOTICE_EN,
    "",
    "Juzgado del Crimen de Puerto Quilanto (ficticio)",
    "Oficio N.º 318, Puerto Quilanto, 6 de abril de 1992.",
    "",
    "Se ordena a la Brigada de Homicidios investigar la querella criminal por",
    "secuestro calificado de los pescadores de Caleta Tronador, detenidos en el",
    "denominado Operativo Albatros de febrero de 1974.",
    "",
    "Se cita a declarar al capitán de corbeta Aníbal Sotomayor Grez y al",
    "suboficial Rigoberto Pezoa Lillo, en calidad de inculpados.",
    "",
    "Anótese y comuníquese.",
    "Ministro instructor",
]

LOGBOOK_LINES = [
    "MUESTRA FICTICIA / FICTIONAL SAMPLE",
    "",
    "LIBRO DE NOVEDADES - GUARDIA",
    "",
    "21 de junio de 1975.",
    "Ingresa detenido Ulises Carvajal Mora,",
    "por orden del Cuartel Aguilucho.",
    "Trasladado a las 23.40 horas en",
    "vehículo sin patente.",
    "Sin novedad en la guardia.",
    "Firma: cabo de turno.",
]

SCAN_LINES = [
    "MUESTRA FICTICIA / FICTIONAL SAMPLE",
    "",
    "MINISTERIO DEL INTERIOR",
    "Oficio reservado 1187",
    "",
    "En respuesta a su consulta, se",
    "informa que Mario Yáñez Fuentes no",
    "registra antecedentes de detención",
    "en ningún recinto de esta",
    "jurisdicción.",
    "",
    "Saluda a Ud., el Subsecretario.",
]


def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    sys.exit("DejaVu Sans Mono not found: install the Debian package fonts-dejavu-core")


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding, non-ASCII bytes as octal escapes."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF 1.4 file of ``objects`` (numbered from 1; 1 is the catalog) with its xref, and
    a document information dictionary that says the file is fictional."""
    info = b"<< /Subject <FEFF" + NOTICE_EN.encode("utf-16-be").hex().upper().encode() + b"> >>"
    objects = [*objects, info]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(content), extra) + content + b"\nendstream"


def make_text_pdf(path: Path) -> None:
    lines = [b"BT", b"/F1 11 Tf", b"15 TL", b"60 780 Td"]
    lines += [_pdf_string(line) + b" Tj T*" for line in PDF_LINES]
    lines.append(b"ET")
    content = b"\n".join(lines) + b"\n"
    path.write_bytes(
        _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
                b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
                b" /Encoding /WinAnsiEncoding >>",
                _stream(content),
            ]
        )
    )


def _page(lines: list[str], size: tuple[int, int], seed: int, angle: float) -> Image.Image:
    """Typed lines on off-white paper with specks, turned by ``angle`` degrees: a scan."""
    rng = random.Random(seed)
    img = Image.new("L", size, 236)
    draw = ImageDraw.Draw(img)
    font = _font(34)
    y = 70
    for line in lines:
        draw.text((80, y), line, fill=35, font=font)
        y += 52
    for _ in range(260):  # dust and toner specks
        x, yy = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.choice((1, 1, 1, 2))
        draw.ellipse([x, yy, x + r, yy + r], fill=rng.randrange(90, 200))
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=236)


def make_logbook_png(path: Path) -> None:
    img = _page(LOGBOOK_LINES, (1100, 700), seed=1975, angle=0.6)
    # Sixteen grey levels, as a cheap scanner's "text" mode: small file, still readable.
    img.quantize(16, dither=Image.Dither.NONE).save(path, "PNG", optimize=True)


def make_scanned_pdf(path: Path) -> None:
    img = _page(SCAN_LINES, (1000, 760), seed=1187, angle=-0.4)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=60)
    jpeg = buffer.getvalue()
    width, height = img.size
    # The page is 500 x 380 points: the 1000-pixel scan at 144 dpi.
    content = b"q 500 0 0 380 0 0 cm /Im1 Do Q\n"
    path.write_bytes(
        _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 500 380]"
                b" /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
                _stream(
                    jpeg,
                    b" /Type /XObject /Subtype /Image /Width %d /Height %d"
                    b" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
                    % (width, height),
                ),
                _stream(content),
            ]
        )
    )


def make_mural_jpeg(path: Path) -> None:
    """A wall with painted faces (circles) and no words."""
    rng = random.Random(1989)
    width, height = 480, 320
    img = Image.new("RGB", (width, height), (196, 186, 170))
    draw = ImageDraw.Draw(img)
    for x in range(0, width, 24):
        draw.line([(x, 0), (x, height)], fill=(180, 170, 154), width=1)
    for i in range(6):
        cx, cy = 50 + i * 76, 130 + rng.randrange(-20, 20)
        tone = (rng.randrange(120, 200), rng.randrange(90, 150), rng.randrange(60, 110))
        draw.ellipse([cx - 28, cy - 36, cx + 28, cy + 36], fill=tone, outline=(40, 30, 30))
        draw.rectangle([cx - 34, cy + 40, cx + 34, cy + 110], fill=(70, 60 + i * 12, 120))
    exif = Image.Exif()
    exif[0x010E] = NOTICE_EN.replace("—", "-")  # ImageDescription
    img.save(path, "JPEG", quality=75, exif=exif)


def _ocr(png_or_pdf: Path) -> str:
    if png_or_pdf.suffix == ".pdf":
        png = subprocess.run(
            ["pdftoppm", "-png", "-r", "200", str(png_or_pdf)], capture_output=True, check=True
        ).stdout
    else:
        png = png_or_pdf.read_bytes()
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "spa+eng"], input=png, capture_output=True
    )
    return out.stdout.decode("utf-8", "replace")


def main() -> None:
    HERE.mkdir(exist_ok=True)
    make_text_pdf(HERE / "oficio_fiscalia_1992.pdf")
    make_logbook_png(HERE / "libro_guardia_pagina.png")
    make_scanned_pdf(HERE / "oficio_escaneado_1975.pdf")
    make_mural_jpeg(HERE / "mural_nueva_aurora.jpg")
    if "--check" in sys.argv[1:]:
        for name in ("libro_guardia_pagina.png", "oficio_escaneado_1975.pdf"):
            print(f"--- {name}\n{_ocr(HERE / name)}")


if __name__ == "__main__":
    main()
