"""The artefact record: what is signed and kept beside every original.

A record says what the original is (digests, size, name, media type), what it shows
(descriptive metadata), what was extracted from it (technical metadata), and who brought it
into the archive, when and from where. It is serialised once to bytes, signed, and never
re-serialised: verification always works on the stored bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from artefacts.json_text import indented_json
from constancia.errors import FormatError

RECORD_FORMAT = "constancia-record/1"
#: The SSHSIG namespace of record signatures (`ssh-keygen -Y verify -n constancia-record`).
RECORD_NAMESPACE = "constancia-record"

_REQUIRED = ("format", "id", "version", "original", "metadata", "ingested")


def build_record(
    *,
    artefact_id: str,
    version: int,
    sha256: str,
    sha512: str,
    size: int,
    original_name: str,
    original_name_hex: str | None,
    logical_path: str,
    media_type: str,
    kind: str,
    metadata: Mapping[str, Any],
    technical: Mapping[str, Any],
    ingested: Mapping[str, Any],
    warnings: list[str] | None = None,
    derived: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one artefact version; ``ingested`` names who, when and from where."""
    original: dict[str, Any] = {
        "name": original_name,
        "path": logical_path,
        "sha256": sha256,
        "sha512": sha512,
        "size": size,
        "media_type": media_type,
    }
    if original_name_hex is not None:
        # The name's bytes were not UTF-8: keep them exactly, as hex.
        original["name_hex"] = original_name_hex
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "id": artefact_id,
        "version": version,
        "kind": kind,
        "original": original,
        "metadata": dict(metadata),
        "technical": dict(technical),
        "ingested": dict(ingested),
    }
    if derived:
        # Extracted text, previews, transcripts: files in the same object, with digests.
        record["derived"] = dict(derived)
    if warnings:
        record["warnings"] = list(warnings)
    return record


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """The stored form: sorted keys, indented for people, UTF-8, one trailing newline."""
    return (indented_json(record) + "\n").encode()


def parse_record(data: bytes) -> dict[str, Any]:
    """Read a stored record; FormatError if it is not one."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"the record is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise FormatError("the record is not a JSON object")
    missing = [k for k in _REQUIRED if k not in value]
    if missing:
        raise FormatError(f"the record lacks {', '.join(missing)}")
    if value["format"] != RECORD_FORMAT:
        raise FormatError(f"unknown record format {value['format']!r}")
    original = value["original"]
    if not isinstance(original, dict) or not all(
        isinstance(original.get(k), str) for k in ("sha256", "sha512", "path")
    ):
        raise FormatError("the record's 'original' lacks its digests or path")
    return value
