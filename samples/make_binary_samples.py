"""Write the fictional samples that are not plain UTF-8 text.

FICTIONAL SAMPLE — invented for testing Constancia; no real person or event.
MUESTRA FICTICIA — inventada para probar Constancia; ninguna persona ni hecho es real.

Run once from the repository root (``.venv/bin/python samples/make_binary_samples.py``); the
outputs are committed, so that their SHA-256 (their artefact IDs) stay the same everywhere.
It writes, into ``samples/villa-quintral/``:

- ``declaracion_elena_rios_1976.txt``: a testimony in Windows-1252, as an old Windows
  computer saved it, to exercise encoding detection;
- ``carta_comite_1976.pdf``: a one-page letter with a real text layer (Helvetica, written by
  hand here, so that nothing but this script decides its bytes);
- ``placa_memorial.jpg``: a drawn photo of a memorial plaque with EXIF camera make, model,
  time and GPS position (near Santiago, for the invented town of Villa Quintral).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, TiffImagePlugin, TiffTags

HERE = Path(__file__).resolve().parent / "villa-quintral"

NOTICE_ES = "MUESTRA FICTICIA — inventada para probar Constancia; ninguna persona ni hecho es real."
NOTICE_EN = "FICTIONAL SAMPLE — invented for testing Constancia; no real person or event."

DECLARACION = f"""{NOTICE_ES}
{NOTICE_EN}

Transcripción (2001) de una declaración mecanografiada, Villa Quintral, 3 de febrero de 1976.
Villa Quintral es un pueblo inventado.

Yo, Elena Ríos de Sepúlveda, dueña de casa, declaro ante el Comité
Parroquial de Ayuda de Villa Quintral lo siguiente:

Mi esposo, Jose Sepulveda Rios, obrero del aserradero, fue detenido en
nuestra casa la noche del 14 de septiembre de 1973. Desde entonces no he
recibido ninguna noticia oficial sobre su paradero.

Un compañero de trabajo de mi esposo, Luis Rodriguez, me contó que lo vio
en el Estadio Municipal hasta el 20 de septiembre de 1973. La vecina
Maria Gonzales me acompañó a todas las oficinas — el retén, el regimiento,
la gobernación y el juzgado — y en todas me dijeron que él había sido
puesto en libertad.

Pido al Comité que haga llegar esta declaración a quien corresponda, para
que se investigue lo ocurrido y se sepa dónde está mi esposo.

Firma: Elena Ríos de S.
"""

LETTER = [
    NOTICE_ES,
    NOTICE_EN,
    "",
    "Comité Parroquial de Ayuda de Villa Quintral (pueblo inventado)",
    "Villa Quintral, 12 de marzo de 1976",
    "",
    "Señor Juez de Letras:",
    "",
    "Este Comité solicita respetuosamente a US. que informe sobre el paradero",
    "de don José Sepúlveda Ríos, obrero, detenido en su domicilio el 14 de",
    "septiembre de 1973, sobre quien su familia no ha recibido noticia alguna.",
    "",
    "Acompañamos la declaración de su cónyuge, doña Elena Ríos, de fecha 3 de",
    "febrero de 1976, y la lista de las oficinas visitadas por la familia.",
    "",
    "Saluda atentamente a US.,",
    "Comité Parroquial de Ayuda",
]


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


def _pdf_text_string(text: str) -> bytes:
    """A PDF text string (document information) as UTF-16BE with byte order mark."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def make_pdf(path: Path) -> None:
    lines = [b"BT", b"/F1 11 Tf", b"14 TL", b"60 780 Td"]
    for line in LETTER:
        lines.append(_pdf_string(line) + b" Tj T*")
    lines.append(b"ET")
    content = b"\n".join(lines) + b"\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title "
        + _pdf_text_string("Carta al Juzgado de Letras (MUESTRA FICTICIA)")
        + b" /Author "
        + _pdf_text_string("Comité Parroquial de Ayuda de Villa Quintral (ficticio)")
        + b" /Subject "
        + _pdf_text_string(NOTICE_EN)
        + b" /CreationDate (D:20240301102000-03'00') >>",
    ]
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
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * 1000), 1000)


def make_jpeg(path: Path) -> None:
    # Pillow does not know ComponentsConfiguration's type (UNDEFINED, 4 bytes); tell it, or it
    # would write the bytes as BYTE and exiftool would call the file non-standard.
    TiffTags.TAGS_V2_GROUPS[0x8769][0x9101] = TiffTags.TagInfo(
        0x9101, "ComponentsConfiguration", TiffTags.UNDEFINED, 4
    )
    width, height = 640, 480
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        # A sky fading into a wall, so the picture compresses like a photo, not a flat chart.
        shade = int(150 + 80 * y / height)
        draw.line([(0, y), (width, y)], fill=(shade - 40, shade - 20, shade))
    draw.rectangle([0, 300, width, height], fill=(168, 150, 128))
    for x in range(0, width, 40):
        draw.line([(x, 300), (x, height)], fill=(140, 124, 104), width=2)
    draw.rectangle([170, 90, 470, 280], fill=(90, 80, 60), outline=(60, 50, 40), width=6)
    big = ImageFont.load_default(size=26)
    small = ImageFont.load_default(size=13)
    for text, y, font in (
        ("MEMORIA", 110, big),
        ("VILLA QUINTRAL", 150, big),
        ("1973 - 1976", 190, big),
        ("MUESTRA FICTICIA / FICTIONAL SAMPLE", 245, small),
    ):
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (right - left)) / 2, y), text, fill=(225, 210, 160), font=font)
    draw.text((10, 455), NOTICE_EN.replace("—", "-"), fill=(40, 30, 20), font=small)

    exif = Image.Exif()
    exif[0x010E] = "FICTIONAL SAMPLE - invented for testing Constancia; no real person or event."
    exif[0x010F] = "Constancia Samples"
    exif[0x0110] = "Fictional Camera 1"
    exif[0x0131] = "samples/make_binary_samples.py"
    # The tags EXIF 2.32 requires, so that `exiftool -validate` finds nothing to warn about.
    exif[0x011A] = exif[0x011B] = _rational(72)  # X and Y resolution
    exif[0x0128] = 2  # resolution unit: inches
    exif[0x0213] = 1  # YCbCr positioning: centred
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9000] = b"0232"  # ExifVersion
    exif_ifd[0x9101] = b"\x01\x02\x03\x00"  # ComponentsConfiguration: Y Cb Cr
    exif_ifd[0xA000] = b"0100"  # FlashpixVersion
    exif_ifd[0xA001] = 1  # ColorSpace: sRGB
    exif_ifd[0xA002], exif_ifd[0xA003] = width, height
    exif_ifd[0x9003] = "2023:09:11 10:30:00"  # DateTimeOriginal
    exif_ifd[0x9004] = "2023:09:11 10:30:00"  # DateTimeDigitized
    exif_ifd[0x9011] = "-03:00"  # OffsetTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3
    gps[1] = "S"
    gps[2] = (_rational(33), _rational(35), _rational(10.2))  # 33.586167 S
    gps[3] = "W"
    gps[4] = (_rational(70), _rational(50), _rational(3.1))  # 70.834194 W
    gps[5] = b"\x00"  # above sea level
    gps[6] = _rational(420)
    img.save(path, "JPEG", quality=82, exif=exif)


def main() -> None:
    (HERE / "declaracion_elena_rios_1976.txt").write_bytes(
        DECLARACION.replace("\n", "\r\n").encode("cp1252")
    )
    make_pdf(HERE / "carta_comite_1976.pdf")
    make_jpeg(HERE / "placa_memorial.jpg")


if __name__ == "__main__":
    main()
