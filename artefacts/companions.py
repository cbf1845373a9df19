"""Which files in a folder belong to another file: metadata sidecars and transcripts.

A *sidecar* of ``testimonio.txt`` is ``testimonio.txt.yaml`` (or ``.yml``) beside it, or, when
no such file exists, ``testimonio.yaml`` provided exactly one file in the folder (other than
sidecars and transcripts) has the stem ``testimonio``. A *transcript* of an audio or video file
``entrevista.mp3`` is ``entrevista.mp3.transcript.txt`` or ``entrevista.mp3.vtt``, or, under the
same rule of one matching stem, ``entrevista.transcript.txt`` or ``entrevista.vtt``. Suffixes
are matched exactly (``.YAML`` is not a sidecar's).

Companions are not artefacts of their own; every other file is, including a ``.yaml`` file
that belongs to no other file. All decisions are made from file names alone, so that
``is_sidecar`` and ``find_sidecar`` always agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from artefacts.media import media_type_from_name

SIDECAR_SUFFIXES = (".yaml", ".yml")
TRANSCRIPT_SUFFIXES = (".transcript.txt", ".vtt")


def _stem(name: str) -> str:
    return Path(name).stem


def _is_audio_video(name: str) -> bool:
    guessed = media_type_from_name(name)
    return guessed is not None and guessed.startswith(("audio/", "video/"))


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str | None:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _companion_target(name: str, siblings: Collection[str]) -> str | None:
    """The file whose transcript ``name`` is, if any."""
    base = _strip_suffix(name, TRANSCRIPT_SUFFIXES)
    if base is None:
        return None
    if base in siblings and _is_audio_video(base):
        return base
    matches = [s for s in siblings if _stem(s) == base and _is_audio_video(s)]
    return matches[0] if len(matches) == 1 else None


def _is_primary(name: str, siblings: Collection[str]) -> bool:
    """A file that may have companions: not a sidecar-shaped name and not a transcript."""
    if name.endswith(SIDECAR_SUFFIXES):
        return False
    return _companion_target(name, siblings) is None


def _unique_primary_with_stem(stem: str, siblings: Collection[str]) -> str | None:
    matches = [s for s in siblings if _stem(s) == stem and _is_primary(s, siblings)]
    return matches[0] if len(matches) == 1 else None


def sidecar_name_for(name: str, siblings: Collection[str]) -> str | None:
    """The name of the sidecar of file ``name`` among ``siblings`` (names in one folder)."""
    for suffix in SIDECAR_SUFFIXES:
        if name + suffix in siblings:
            return name + suffix
    stem = _stem(name)
    if stem == name or not _is_primary(name, siblings):
        return None
    for suffix in SIDECAR_SUFFIXES:
        candidate = stem + suffix
        if candidate != name and candidate in siblings:
            return candidate if _unique_primary_with_stem(stem, siblings) == name else None
    return None


def transcript_name_for(name: str, siblings: Collection[str]) -> str | None:
    """The name of the transcript of audio or video file ``name`` among ``siblings``."""
    if not _is_audio_video(name):
        return None
    for suffix in TRANSCRIPT_SUFFIXES:
        if name + suffix in siblings:
            return name + suffix
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = _stem(name) + suffix
        if candidate in siblings and _companion_target(candidate, siblings) == name:
            return candidate
    return None


def _folder_names(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir() if p.is_file()}
    except OSError:
        return set()


def find_sidecar(file: Path) -> Path | None:
    """The metadata sidecar beside ``file``, or None (see the module docstring for the rule)."""
    name = sidecar_name_for(file.name, _folder_names(file.parent))
    return file.parent / name if name is not None else None


def find_transcript(file: Path) -> Path | None:
    """The transcript beside audio or video ``file``, or None."""
    name = transcript_name_for(file.name, _folder_names(file.parent))
    return file.parent / name if name is not None else None


def is_sidecar(path: Path, siblings: Collection[str]) -> bool:
    """True if ``path`` is the sidecar or transcript of another file among ``siblings``.

    ``siblings`` are the names of the files in ``path``'s folder. A ``.yaml`` file that belongs
    to no other file is an artefact of its own and gets False.
    """
    name = path.name
    owner = _companion_target(name, siblings)
    if owner is not None:
        return transcript_name_for(owner, siblings) == name
    base = _strip_suffix(name, SIDECAR_SUFFIXES)
    if base is None:
        return False
    if base in siblings and base != name and sidecar_name_for(base, siblings) == name:
        return True
    owner = _unique_primary_with_stem(base, siblings)
    return owner is not None and owner != name and sidecar_name_for(owner, siblings) == name
