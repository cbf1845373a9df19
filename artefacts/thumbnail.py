"""A small JPEG preview of an image, kept as a derived file beside the untouched original."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

MAX_SIDE = 320
#: Beyond this the preview is skipped rather than decoding a huge (or hostile) image.
MAX_PIXELS = 60_000_000


def make_thumbnail(path: Path, media_type: str, *, max_side: int = MAX_SIDE) -> bytes | None:
    """JPEG bytes of a preview at most ``max_side`` pixels wide and high, or None when the
    file is no image Pillow can decode safely. Never raises."""
    if not media_type.startswith("image/"):
        return None
    try:
        from PIL import Image, ImageOps

        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as source:
                if source.width * source.height > MAX_PIXELS:
                    return None
                source.draft("RGB", (max_side, max_side))  # JPEG: decode at a fraction of size
                im = ImageOps.exif_transpose(source)
                im.thumbnail((max_side, max_side))
                out = io.BytesIO()
                im.convert("RGB").save(out, "JPEG", quality=80, optimize=True)
                return out.getvalue()
    except Exception as e:
        log.debug("no thumbnail for %s: %s", path, e)
        return None
