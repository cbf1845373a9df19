"""Which file a sidecar or transcript belongs to, decided from names in one folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from artefacts.metadata import find_sidecar, find_transcript, is_sidecar

FOLDER = {
    "a.txt",
    "a.txt.yaml",  # full-name form
    "b.txt",
    "b.yaml",  # stem form
    "c.txt",
    "c.pdf",
    "c.yaml",  # ambiguous stem: c.yaml is an artefact of its own
    "lone.yaml",  # describes nothing: an artefact of its own
    "g.txt",
    "g.txt.yaml",
    "g.yaml",  # full-name form wins; g.yaml is its own artefact
    "h.jpg",
    "h.jpg.yml",
    "e.mp3",
    "e.vtt",
    "e.yaml",  # transcript in stem form; e.vtt does not make e.yaml ambiguous
    "f.mp4",
    "f.mp4.transcript.txt",
    "notes.txt",
    "notes.transcript.txt",  # a text file has no transcript
    "UPPER.txt",
    "UPPER.txt.YAML",  # suffixes are matched exactly
}

EXPECTED_SIDECARS = {
    "a.txt.yaml",
    "b.yaml",
    "g.txt.yaml",
    "h.jpg.yml",
    "e.vtt",
    "e.yaml",
    "f.mp4.transcript.txt",
}


@pytest.mark.parametrize("name", sorted(FOLDER))
def test_is_sidecar(name: str) -> None:
    assert is_sidecar(Path("/x") / name, FOLDER) == (name in EXPECTED_SIDECARS)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in FOLDER:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub.yaml").mkdir()  # a folder is not a sibling file
    return tmp_path


@pytest.mark.parametrize(
    ("name", "sidecar"),
    [
        ("a.txt", "a.txt.yaml"),
        ("b.txt", "b.yaml"),
        ("c.txt", None),
        ("c.pdf", None),
        ("g.txt", "g.txt.yaml"),
        ("h.jpg", "h.jpg.yml"),
        ("e.mp3", "e.yaml"),
        ("lone.yaml", None),
        ("UPPER.txt", None),
        ("f.mp4", None),
    ],
)
def test_find_sidecar(folder: Path, name: str, sidecar: str | None) -> None:
    assert find_sidecar(folder / name) == (folder / sidecar if sidecar else None)


@pytest.mark.parametrize(
    ("name", "transcript"),
    [("e.mp3", "e.vtt"), ("f.mp4", "f.mp4.transcript.txt"), ("notes.txt", None), ("a.txt", None)],
)
def test_find_transcript(folder: Path, name: str, transcript: str | None) -> None:
    assert find_transcript(folder / name) == (folder / transcript if transcript else None)


def test_every_file_is_either_an_artefact_or_a_companion_of_one(folder: Path) -> None:
    names = {p.name for p in folder.iterdir() if p.is_file()}
    claimed = {find_sidecar(folder / n) for n in names} | {
        find_transcript(folder / n) for n in names
    }
    companions = {folder / n for n in names if is_sidecar(folder / n, names)}
    assert companions == claimed - {None}
