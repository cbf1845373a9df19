"""Transcripts: WebVTT (and SubRip, its older cousin) to plain text, or a plain transcript.

Cue timings, cue identifiers, ``NOTE``, ``STYLE`` and ``REGION`` blocks are dropped; markup
(``<i>``, ``<c.x>``, timestamps) is removed and entities decoded. A voice tag
``<v Elena Ríos>`` becomes ``Elena Ríos: `` whenever the speaker changes, because who said
what matters in a testimony. A line repeated by rolling captions is kept once. The reader is
lenient: a file without the ``WEBVTT`` line is read for its cues all the same.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from artefacts.extractors.plain import byte_budget, decode_text, read_head
from artefacts.extractors.result import ExtractedText, ExtractRequest

_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_TAG = re.compile(r"</?[^>]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")  # {\an8} in SubRip files from Aegisub
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
CUE_SUFFIXES = (".vtt", ".srt")


def _language(header: str) -> str | None:
    # Not in the WebVTT standard, but written by common caption tools ("Language: es").
    m = re.search(r"^Language:\s*([A-Za-z0-9-]+)\s*$", header, re.M)
    return m.group(1) if m else None


def _is_skipped(block: str) -> bool:
    first = block.split("\n", 1)[0]
    return any(
        first == word or first.startswith((word + " ", word + "\t")) for word in _SKIPPED_BLOCKS
    )


def cues_to_text(source: str) -> tuple[str, str | None]:
    """(text, language) of a WebVTT or SubRip document: the cue payloads, one line each."""
    source = source.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = _BLANK_LINES.split(source.strip("\n"))
    language = None
    if blocks and blocks[0].startswith("WEBVTT"):
        language = _language(blocks[0])
        blocks = blocks[1:]
    lines: list[str] = []
    speaker: str | None = None
    previous = ""
    for block in blocks:
        rows = block.split("\n")
        timing = next((i for i, row in enumerate(rows) if "-->" in row), None)
        if timing is None or _is_skipped(block):
            continue
        for payload in rows[timing + 1 :]:
            voice = _VOICE.search(payload)
            line = html.unescape(_TAG.sub("", _ASS_OVERRIDE.sub("", payload))).strip()
            if not line or line == previous:
                continue  # rolling captions repeat the line before
            previous = line
            if voice is not None and voice.group(1).strip() != speaker:
                speaker = voice.group(1).strip()
                line = f"{speaker}: {line}"
            lines.append(line)
    return "\n".join(lines), language


def _read(path: Path, max_chars: int) -> tuple[str, str, bool]:
    data, complete = read_head(path, byte_budget(max_chars))
    text, encoding = decode_text(data, complete=complete)
    return text, encoding, complete


def extract_transcript(path: Path, request: ExtractRequest) -> ExtractedText:
    """The text of transcript ``path`` (``.vtt``/``.srt`` cues, or any plain text file)."""
    text, encoding, complete = _read(path, request.max_chars)
    if path.name.lower().endswith(CUE_SUFFIXES) or text.lstrip("\ufeff").startswith("WEBVTT"):
        cues, language = cues_to_text(text)
        return ExtractedText(
            text=cues, method="transcript:vtt", language_hint=language, truncated=not complete
        )
    return ExtractedText(text=text, method=f"transcript:{encoding}", truncated=not complete)


def extract_vtt(request: ExtractRequest) -> ExtractedText:
    """A WebVTT or SubRip file ingested on its own: the text of its cues."""
    text, _, complete = _read(request.path, request.max_chars)
    cues, language = cues_to_text(text)
    return ExtractedText(text=cues, method="vtt", language_hint=language, truncated=not complete)
