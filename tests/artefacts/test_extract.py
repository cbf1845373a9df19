"""extract_text on text, Markdown, HTML and transcripts; normalisation; limits; the registry."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artefacts.extract import (
    ExtractedText,
    ExtractRequest,
    extract_text,
    normalise_text,
    register_extractor,
)
from artefacts.extractors.plain import decode_text

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "villa-quintral"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


ENCODINGS = [
    # (bytes, expected text, expected encoding)
    ("José Sepúlveda «detenido»".encode(), "José Sepúlveda «detenido»", "utf-8"),
    (b"\xef\xbb\xbfPe\xc3\xb1a", "Peña", "utf-8"),
    ("Pe\u00f1a".encode("utf-16"), "Peña", "utf-16-le"),
    (
        b"\x93Le dijeron\x94 a Mar\xeda \x96 en Linares",
        "“Le dijeron” a María – en Linares",
        "windows-1252",
    ),
    (b"Jos\xe9 Sep\xfalveda, se\xf1or", "José Sepúlveda, señor", "windows-1252"),
    (b"Concepci\xf3n \x81", "Concepción \x81", "iso-8859-1"),
    # Mostly UTF-8 with one stray byte: stays UTF-8, the stray byte becomes U+FFFD.
    ("Valparaíso, Ñuñoa, Curicó ".encode() + b"\xff", "Valparaíso, Ñuñoa, Curicó \ufffd", None),
]


@pytest.mark.parametrize(("data", "expected", "encoding"), ENCODINGS)
def test_encodings_are_detected(data: bytes, expected: str, encoding: str | None) -> None:
    text, found = decode_text(data)
    assert text == expected
    assert encoding is None or found == encoding


def test_windows_1252_sample_reads_with_accents_and_crlf_gone() -> None:
    result = extract_text(SAMPLES / "declaracion_elena_rios_1976.txt", "text/plain")
    assert result.method == "plain:windows-1252" and result.error is None
    assert "Transcripción" in result.text and "\r" not in result.text
    assert result.language_hint == "es"


def test_markdown_is_kept_as_written(tmp_path: Path) -> None:
    path = _file(tmp_path, "t.md", b"# Testimonio\n\n**Detenido** en _Villa Quintral_.\n")
    result = extract_text(path, "text/markdown")
    assert result.text == "# Testimonio\n\n**Detenido** en _Villa Quintral_."


def test_normalisation() -> None:
    raw = "Cafe\u0301\x00 ok\r\nline\x07 two  \r\n\r\n\r\n\n\tend\x0cpage\u2028x\x1b"
    assert normalise_text(raw) == "Café ok\nline two\n\n\tend\npage\nx"


def _normalise_every_pass(text: str) -> str:
    """normalise_text as specified, every pass run whatever the text holds."""
    text = re.sub(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]", "\n", text)
    text = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff\ud800-\udfff]", "", text)
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"[ \t]+\n", "\n", text + "\n")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


#: The characters the passes look for, often, among ordinary ones.
_AWKWARD = st.text(
    alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x85\u2028\u2029\x00\x07\ufeffe\u0301ñ")),
    max_size=60,
)


@given(st.one_of(_AWKWARD, st.text(max_size=60)))
def test_normalisation_skips_only_passes_that_cannot_match(text: str) -> None:
    assert normalise_text(text) == _normalise_every_pass(text)


def test_html_drops_scripts_decodes_entities_and_breaks_blocks(tmp_path: Path) -> None:
    page = (
        '<!doctype html><html lang="es-CL"><head><meta charset="windows-1252">'
        "<title>Acta</title><style>p {color: red}</style><script>var x = '<p>no</p>';</script>"
        "</head><body><h1>Recurso de amparo</h1><p>Se&ntilde;or &amp; Juez:<br>Jos\xe9 &#8212;"
        " detenido</p><div>Linares</div><table><tr><td>Nombre<td>Fecha</tr>"
        "<tr><td>Elena</td><td>1976</td></tr></table><pre>a   b</pre></body></html>"
    ).encode("cp1252")
    result = extract_text(_file(tmp_path, "a.html", page), "text/html")
    assert result.text == (
        "Acta\n\nRecurso de amparo\n\nSeñor & Juez:\nJosé — detenido\n\nLinares\n\n"
        "Nombre\tFecha\nElena\t1976\n\na   b"
    )
    assert result.language_hint == "es-CL" and result.method == "html:windows-1252"


VTT = """WEBVTT
Kind: captions
Language: es

NOTE grabada en 2024; not part of the text

STYLE
::cue { color: yellow }

1
00:00:01.000 --> 00:00:04.000 align:start
<v Elena Ríos>Me llevaron a <i>Linares</i> &amp; después

00:00:04.000 --> 00:00:06.500
<v Elena Ríos>no supe más.

00:00:06.500 --> 00:00:08.000
<v.entrevistador Ana>¿<c.loud>Cuándo</c>?
<00:00:07.000>¿Cuándo?
"""


def test_vtt_transcript_becomes_text_without_timings(tmp_path: Path) -> None:
    audio = _file(tmp_path, "entrevista.wav", b"")
    transcript = _file(tmp_path, "entrevista.vtt", VTT.encode())
    result = extract_text(audio, "audio/wav", transcript=transcript)
    assert result.text == (
        "Elena Ríos: Me llevaron a Linares & después\nno supe más.\nAna: ¿Cuándo?"
    )
    assert result.method == "transcript:vtt" and result.language_hint == "es"


def test_srt_and_plain_transcripts(tmp_path: Path) -> None:
    srt = (
        "1\r\n00:00:01,000 --> 00:00:02,000\r\n{\\an8}Hola\r\n\r\n"
        "2\r\n00:00:02,000 --> 00:00:03,000\r\nchao\r\n"
    )
    audio = tmp_path / "a.mp3"
    got = extract_text(audio, "audio/mpeg", transcript=_file(tmp_path, "a.srt", srt.encode()))
    assert got.text == "Hola\nchao"
    plain = _file(tmp_path, "a.mp3.transcript.txt", b"Declaraci\xf3n de Elena")
    assert extract_text(audio, "audio/mpeg", transcript=plain).text == "Declaración de Elena"
    assert extract_text(audio, "audio/mpeg").text == ""


def test_a_vtt_file_on_its_own_is_read_for_its_cues(tmp_path: Path) -> None:
    result = extract_text(_file(tmp_path, "x.vtt", VTT.encode()), "text/vtt")
    assert result.text.startswith("Elena Ríos: Me llevaron") and "-->" not in result.text


def test_max_chars_truncates(tmp_path: Path) -> None:
    result = extract_text(_file(tmp_path, "t.txt", b"abcdef" * 10), "text/plain", max_chars=10)
    assert result.text == "abcdefabcd" and result.truncated


@pytest.mark.parametrize(
    "media_type", ["text/plain", "text/html", "application/pdf", DOCX, "image/png"]
)
def test_a_huge_file_is_not_read_whole(tmp_path: Path, media_type: str) -> None:
    path = tmp_path / "huge"
    with path.open("wb") as f:
        f.truncate(1 << 30)  # 1 GiB, sparse: reading it all would take seconds
    result = extract_text(path, media_type, max_chars=1000)
    # Cut short, or refused as damaged (or, without Tesseract, an image not even opened).
    assert result.truncated or result.error is not None or result.ocr == "skipped"


def test_missing_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = extract_text(tmp_path / "nope.txt", "text/plain")
    assert result.error is not None and "nope.txt" in result.error and result.text == ""


def test_unknown_type_has_no_text(tmp_path: Path) -> None:
    assert extract_text(_file(tmp_path, "z", b"PK"), "application/zip") == ExtractedText(
        text="", method="none"
    )


def test_registered_extractor_wins_and_its_failure_is_caught(tmp_path: Path) -> None:
    def failing(request: ExtractRequest) -> ExtractedText:
        raise RuntimeError("boom")

    register_extractor("application/x-constancia-test", failing)
    result = extract_text(_file(tmp_path, "t", b"x"), "application/x-constancia-test")
    assert result.error == "the text of the file could not be extracted (RuntimeError: boom)"


def test_importing_extract_loads_no_heavy_library() -> None:
    code = (
        "import sys, artefacts.extract;"
        "print(sorted(m for m in ('PIL', 'pypdf', 'docx', 'lxml', 'mutagen') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


MEDIA_TYPES = [
    "text/plain", "text/markdown", "text/html", "text/vtt", "application/json", "application/pdf",
    DOCX, "image/png", "image/jpeg", "image/tiff", "audio/wav", "video/mp4", "application/zip",
]  # fmt: skip
PREFIXES = [
    b"",
    b"%PDF-1.4\n",
    b"PK\x03\x04",
    b"\x89PNG\r\n\x1a\n",
    b"WEBVTT\n\n",
    b"<html>",
    b"II*\x00",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    media_type=st.sampled_from(MEDIA_TYPES),
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=2048),
    tail=st.sampled_from([b"", b"\n%%EOF\n"]),
)
def test_random_bytes_never_raise(
    tmp_path: Path, media_type: str, prefix: bytes, body: bytes, tail: bytes
) -> None:
    path = _file(tmp_path, "random", prefix + body + tail)
    result = extract_text(path, media_type, transcript=None)
    assert isinstance(result.text, str) and "\x00" not in result.text
