"""Audio and video: duration and format from the file's headers, read by mutagen.

mutagen (pure Python, no dependencies) reads the headers of WAV, MP3 (including VBR
headers), MP4/M4A, Ogg Vorbis/Opus/FLAC/Theora, FLAC, AIFF and ASF by seeking, so a
recording of hours costs a few reads. Containers it does not know (Matroska, WebM, AVI) get
their format only. A recording has no text of its own: its text is a transcript beside it
(see :mod:`artefacts.companions`), which :func:`artefacts.extract.extract_text` takes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from artefacts.extractors.result import ExtractedText, ExtractRequest

_FIELDS = ("sample_rate", "channels", "bits_per_sample", "bitrate")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def av_technical(path: Path, media_type: str) -> dict[str, Any]:
    """``format``, ``duration_seconds`` and, where known, sample rate, channels and bitrate.

    Shaped as an :mod:`artefacts.handlers` handler: ``error`` (a sentence) if the headers
    are damaged, no ``duration_seconds`` if the container is one mutagen does not read.
    """
    import mutagen

    info: dict[str, Any] = {"format": media_type.split("/", 1)[-1].split(";", 1)[0].strip()}
    try:
        found = mutagen.File(path)
    except mutagen.MutagenError as e:
        info["error"] = f"the recording's headers are damaged ({e})"
        return info
    if found is None or found.info is None:
        return info
    stream = found.info
    info["container"] = type(found).__name__
    duration = _number(getattr(stream, "length", None))
    if duration is not None:
        info["duration_seconds"] = round(duration, 3)
    for field in _FIELDS:
        value = _number(getattr(stream, field, None))
        if value:
            info[field] = int(value)
    codec = getattr(stream, "codec", None)
    if isinstance(codec, str) and codec:
        info["codec"] = codec
    return info


def extract_av(request: ExtractRequest) -> ExtractedText:
    """A recording without a transcript has no text."""
    del request
    return ExtractedText(text="", method="none")
