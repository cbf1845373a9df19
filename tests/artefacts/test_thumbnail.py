"""Previews of images: small JPEGs; damaged or non-image files give None, never an error."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from artefacts.thumbnail import make_thumbnail

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "villa-quintral" / "placa_memorial.jpg"


def test_thumbnail_of_the_sample_photo_is_a_small_jpeg():
    data = make_thumbnail(SAMPLE, "image/jpeg")
    assert data is not None and data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as im:
        assert max(im.size) <= 320 and im.size[0] > 0


def test_no_thumbnail_for_damaged_or_non_images(tmp_path):
    broken = tmp_path / "roto.jpg"
    broken.write_bytes(SAMPLE.read_bytes()[:200])
    assert make_thumbnail(broken, "image/jpeg") is None
    assert make_thumbnail(SAMPLE, "application/pdf") is None
