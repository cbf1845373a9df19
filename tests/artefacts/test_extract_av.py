"""Audio and video: duration and format from headers (mutagen), checked against other readers."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artefacts.extract import extract_text
from artefacts.extractors.av import av_technical


def _wav(path: Path, seconds: float, rate: int = 8000, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * channels * int(rate * seconds))


def test_wav_duration_agrees_with_the_wave_module(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 1.5, rate=16000, channels=2)
    with wave.open(str(tmp_path / "a.wav")) as w:
        expected = w.getnframes() / w.getframerate()
    info = av_technical(tmp_path / "a.wav", "audio/wav")
    assert info["duration_seconds"] == pytest.approx(expected) == 1.5
    assert (info["format"], info["sample_rate"], info["channels"]) == ("wav", 16000, 2)


def test_cbr_mp3_duration(tmp_path: Path) -> None:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames of 1152 samples.
    frame = bytes.fromhex("fffb9064") + b"\x00" * 413
    (tmp_path / "a.mp3").write_bytes(frame * 100)
    info = av_technical(tmp_path / "a.mp3", "audio/mpeg")
    assert info["duration_seconds"] == pytest.approx(100 * 1152 / 44100, abs=0.05)
    assert (info["sample_rate"], info["bitrate"]) == (44100, 128000)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_video_only_mp4_duration_from_its_movie_header(tmp_path: Path) -> None:
    # mvhd version 0: flags, creation, modification, timescale 1000, duration 2500 (2.5 s).
    mvhd = struct.pack(">I4I", 0, 0, 0, 1000, 2500) + b"\x00" * 80
    data = _box(b"ftyp", b"isom\x00\x00\x02\x00isom") + _box(b"moov", _box(b"mvhd", mvhd))
    (tmp_path / "v.mp4").write_bytes(data)
    info = av_technical(tmp_path / "v.mp4", "video/mp4")
    assert info["duration_seconds"] == 2.5 and info["format"] == "mp4"


def test_unknown_container_gets_its_format_only(tmp_path: Path) -> None:
    (tmp_path / "v.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 100)
    assert av_technical(tmp_path / "v.mkv", "video/x-matroska") == {"format": "x-matroska"}


def test_recording_without_transcript_has_no_text(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 0.1)
    result = extract_text(tmp_path / "a.wav", "audio/wav")
    assert (result.text, result.method, result.error) == ("", "none", None)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["a.wav", "a.mp3", "a.mp4", "a.ogg", "a.flac", "a.m4a"]),
    prefix=st.sampled_from(
        [
            b"",
            b"RIFF\x00\x00\x00\x00WAVEfmt ",
            b"ID3\x04\x00",
            b"OggS",
            b"fLaC",
            b"\x00\x00\x00\x18ftypisom",
            b"\xff\xfb\x90\x64",
        ]
    ),
    body=st.binary(max_size=1024),
)
def test_random_bytes_give_a_dict(tmp_path: Path, name: str, prefix: bytes, body: bytes) -> None:
    (tmp_path / name).write_bytes(prefix + body)
    info = av_technical(tmp_path / name, "audio/x-test")
    assert info["format"] == "x-test"
