"""Images: format, size, colour mode, and the camera's EXIF record (make, model, time, GPS).

EXIF is evidence a defence will contest, so it is reported exactly as the camera wrote it
(time as written, without a zone) plus GPS converted to decimal degrees. A file that cannot be
decoded to the end is reported as damaged (``error``), not skipped: a truncated photo is worth
knowing about. Images whose pixel count exceeds Pillow's decompression-bomb limit are reported
as an error without being decoded.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

#: Files up to this size and pixel count are decoded completely to prove they are not cut
#: short; larger ones are only described, so that a huge scan costs no more than a glance.
DECODE_MAX_BYTES = 16 * 1024 * 1024
DECODE_MAX_PIXELS = 40_000_000

_MAKE, _MODEL, _ORIENTATION = 0x010F, 0x0110, 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL = 0x9003
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _exif_time(value: Any) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` as ISO 8601 ``YYYY-MM-DDTHH:MM:SS``; other text unchanged."""
    text = _text(value)
    if text is None:
        return None
    m = _EXIF_TIME.fullmatch(text)
    return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}" if m else text


def _real(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(dms: Any, ref: Any) -> float | None:
    """Degrees, minutes, seconds and a hemisphere letter as signed decimal degrees."""
    if not isinstance(dms, tuple | list) or len(dms) != 3:
        return None
    parts = [_real(x) for x in dms]
    if any(p is None for p in parts):
        return None
    d, m, s = (float(p) for p in parts if p is not None)
    value = d + m / 60 + s / 3600
    if _text(ref) in ("S", "W"):
        value = -value
    return round(value, 7)


def _gps(ifd: Any) -> dict[str, float]:
    gps: dict[str, float] = {}
    lat, lon = _degrees(ifd.get(2), ifd.get(1)), _degrees(ifd.get(4), ifd.get(3))
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
        gps["latitude"], gps["longitude"] = lat, lon
    altitude = _real(ifd.get(6))
    if altitude is not None:
        below_sea = ifd.get(5) in (1, b"\x01")
        gps["altitude"] = round(-altitude if below_sea else altitude, 3)
    return gps


def _exif(img: Any) -> dict[str, Any]:
    exif = img.getexif()
    found: dict[str, Any] = {
        "camera_make": _text(exif.get(_MAKE)),
        "camera_model": _text(exif.get(_MODEL)),
        "datetime_original": _exif_time(exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)),
        "orientation": exif.get(_ORIENTATION) if isinstance(exif.get(_ORIENTATION), int) else None,
        "gps": _gps(exif.get_ifd(_GPS_IFD)) or None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _decode_fully(img: Any, path: Path) -> None:
    """Decode the pixels, so that a cut-short or corrupt file raises; skipped for huge files."""
    if path.stat().st_size > DECODE_MAX_BYTES:
        return
    if img.format == "JPEG":
        # Decoding at 1/8 scale still reads every byte of the compressed data.
        img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
    if img.width * img.height <= DECODE_MAX_PIXELS:
        img.load()


def _format_from(media_type: str) -> str:
    return media_type.split("/", 1)[-1].upper()


def image_technical(path: Path, media_type: str) -> dict[str, Any]:
    """Format, width, height, mode and EXIF of an image; ``error`` if it is damaged."""
    from PIL import Image, UnidentifiedImageError

    info: dict[str, Any] = {"format": _format_from(media_type)}
    with warnings.catch_warnings():
        # Past MAX_IMAGE_PIXELS Pillow only warns; past twice that it raises. Refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                info.update(format=img.format, width=img.width, height=img.height, mode=img.mode)
                try:
                    info.update(_exif(img))
                except Exception as e:
                    info["exif_error"] = f"the EXIF record is damaged ({e})"
                _decode_fully(img, path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            info["error"] = (
                f"the image claims more pixels than the safety limit of {Image.MAX_IMAGE_PIXELS}"
                " (a possible decompression bomb), so it was not decoded"
            )
        except UnidentifiedImageError:
            info["error"] = "the file is not an image that can be read, or it is badly damaged"
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            info["error"] = f"the image is damaged or cut short ({e})"
    return info
