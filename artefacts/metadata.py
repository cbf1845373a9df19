"""Descriptive metadata: the YAML sidecar beside an original, and its schema.

A sidecar ``NAME.yaml`` describes the file ``NAME`` (see :mod:`artefacts.companions` for which
file a sidecar belongs to). Every key is optional:

=============  ===================================================================================
key            value
=============  ===================================================================================
title          text
kind           one of testimony, document, photo, audio, video, other; if absent, guessed from
               the media type when the record is built (a testimony cannot be guessed)
language       a BCP 47 language tag, checked by syntax: ``es``, ``en``, ``es-CL``
description    text
date           when the events happened, EDTF level 0: ``1973``, ``1973-09``, ``1973-09-11``, or an
               interval ``1973-09/1974-03`` (start not after end); real calendar days only
created        when the artefact was made: the same forms, or a date and time
               ``2024-03-01T10:20:00Z``
places         a text, or a list of texts
people         a name, or a list whose items are names or ``{name: ..., role: ...}`` with role one
               of witness, victim, alleged-perpetrator, documenter, other
source         text: where the artefact came from
collected_by   text: who collected it
sensitivity    one of public, restricted, confidential; ``restricted`` when no one says otherwise
consent        text: what the people concerned agreed to
tags           a text, or a list of texts
=============  ===================================================================================

Unknown keys are kept as they are, never dropped; a key that looks like a misspelling of a known
one (``plces``) gives a warning "'plces': did you mean 'places'?". Numbers in text fields are
read as text (``title: 1984``); lists, mappings and yes/no where text belongs are errors.

Normalised values: text fields are stripped strings; ``places`` and ``tags`` are lists of
strings; ``people`` is a list of ``{"name": ..., "role": ...}`` (role only when given);
``language`` is in recommended case; dates are strings exactly as written. The result is a plain
``dict`` ready for JSON. Validation returns only what the input says: :func:`merge_metadata`
(or :func:`with_defaults`) adds the default sensitivity, so that a sidecar that is silent on
sensitivity does not override the ``--meta`` file given for the whole run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from artefacts.companions import find_sidecar, find_transcript, is_sidecar
from artefacts.edtf import EdtfError, check_edtf
from artefacts.language_tags import normalise_language_tag
from artefacts.sidecar_yaml import decode_utf8, parse_yaml_mapping, read_limited
from constancia.errors import MetadataError

__all__ = [
    "KINDS",
    "KNOWN_KEYS",
    "ROLES",
    "SENSITIVITIES",
    "Metadata",
    "find_sidecar",
    "find_transcript",
    "guess_kind",
    "is_sidecar",
    "load_sidecar",
    "merge_metadata",
    "validate_metadata",
    "with_defaults",
]

#: Normalised metadata: a plain dict of JSON values.
Metadata: TypeAlias = dict[str, Any]

KINDS = ("testimony", "document", "photo", "audio", "video", "other")
ROLES = ("witness", "victim", "alleged-perpetrator", "documenter", "other")
SENSITIVITIES = ("public", "restricted", "confidential")
DEFAULT_SENSITIVITY = "restricted"
TEXT_KEYS = ("title", "description", "source", "collected_by", "consent")
LIST_KEYS = ("places", "tags")
KNOWN_KEYS = (
    "title",
    "kind",
    "language",
    "description",
    "date",
    "created",
    "places",
    "people",
    "source",
    "collected_by",
    "sensitivity",
    "consent",
    "tags",
)


def _label(where: str) -> str:
    """How a key or a list item is named to the user: 'places' or 'places' (item 2)."""
    key, _, index = where.partition(".")
    return f"{key!r} (item {int(index) + 1})" if index.isdigit() else repr(key)


def _items(key: str, value: object) -> list[tuple[str, object]]:
    """A list's items with their places (``places.0``), or a single value as a list of one."""
    if isinstance(value, list | tuple):
        return [(f"{key}.{i}", item) for i, item in enumerate(value)]
    return [(key, value)]


class _Checker:
    """Validation of one metadata mapping; knows where each key was written."""

    def __init__(self, path: Path | None, lines: Mapping[str, int] | None) -> None:
        self.path = path
        self.lines = lines or {}
        self.warnings: list[str] = []

    def error(self, where: str, message: str, hint: str) -> MetadataError:
        line = self.lines.get(where, self.lines.get(where.split(".")[0]))
        return MetadataError(message, path=self.path, line=line, hint=hint)

    def warn(self, where: str, message: str) -> None:
        line = self.lines.get(where, self.lines.get(where.split(".")[0]))
        prefix = "" if self.path is None else self.path.name
        if line is not None:
            prefix += f", line {line}" if prefix else f"line {line}"
        self.warnings.append(f"{prefix}: {message}" if prefix else message)

    def text(self, where: str, value: object) -> str | None:
        """A text value, or None (with a warning) for an empty one."""
        if value is None:
            self.warn(where, f"{_label(where)} is empty and was left out")
            return None
        if isinstance(value, bool):
            shown = "yes/true" if value else "no/false"
            raise self.error(
                where,
                f"{_label(where)} is {shown}, which YAML reads as a yes/no value, not text",
                f'put the value in quotes: {where.split(".")[0]}: "{"yes" if value else "no"}"',
            )
        if isinstance(value, int | float):
            value = str(value)
        elif isinstance(value, dt.datetime):
            value = value.isoformat(timespec="seconds")
        elif isinstance(value, dt.date):
            value = value.isoformat()
        if isinstance(value, list | tuple):
            raise self.error(
                where,
                f"{_label(where)} must be one text, not a list",
                "write the text on one line, or as a block after  key: |",
            )
        if isinstance(value, Mapping):
            raise self.error(
                where,
                f"{_label(where)} must be a text, not a set of key: value pairs",
                "put the whole value in quotes if it contains a colon followed by a space",
            )
        if not isinstance(value, str):
            raise self.error(where, f"{_label(where)} must be a text", "write plain text")
        value = value.strip()
        if not value:
            self.warn(where, f"{_label(where)} is empty and was left out")
            return None
        return value

    def choice(self, where: str, value: object, allowed: tuple[str, ...]) -> str | None:
        text = self.text(where, value)
        if text is None:
            return None
        chosen = text.lower().replace("_", "-").replace(" ", "-")
        if chosen not in allowed:
            close = difflib.get_close_matches(chosen, allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? Otherwise " if close else ""
            raise self.error(
                where,
                f"{_label(where)} is {text!r}, which is not one of {', '.join(allowed)}",
                hint + f"write one of: {', '.join(allowed)}",
            )
        return chosen

    def text_list(self, key: str, value: object) -> list[str] | None:
        result = [t for w, item in _items(key, value) if (t := self.text(w, item))]
        return result or None

    def person(self, where: str, value: object) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            name = self.text(where, value)
            return None if name is None else {"name": name}
        person: dict[str, Any] = {}
        for key, item in value.items():
            if key == "name":
                person["name"] = self.text(where, item)
            elif key == "role":
                role = self.choice(where, item, ROLES)
                if role is not None:
                    person["role"] = role
            else:
                self.unknown(where, str(key), ("name", "role"))
                person[str(key)] = self.json_value(where, item)
        if not person.get("name"):
            raise self.error(
                where,
                "a person in 'people' has no name",
                "give each person a name:  - {name: María González, role: witness}",
            )
        return person

    def people(self, value: object) -> list[dict[str, Any]] | None:
        items = value if isinstance(value, list) else [value]
        where = (
            [f"people.{i}" for i in range(len(items))] if isinstance(value, list) else ["people"]
        )
        result = [p for w, item in zip(where, items, strict=True) if (p := self.person(w, item))]
        return result or None

    def edtf(self, key: str, value: object, *, allow_time: bool) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = self.text(key, value)
        if text is None:
            return None
        try:
            return check_edtf(text, allow_time=allow_time)
        except EdtfError as e:
            raise self.error(key, f"{key!r}: {e}", e.hint) from None

    def language(self, value: object) -> str | None:
        text = self.text("language", value)
        if text is None:
            return None
        try:
            return normalise_language_tag(text)
        except ValueError:
            hint = "use a language tag such as es, en or es-CL (letters and hyphens only)"
            if "_" in text:
                hint = f"use a hyphen, not an underscore: {text.replace('_', '-')}"
            raise self.error(
                "language", f"'language' is {text!r}, not a language tag", hint
            ) from None

    def unknown(self, where: str, key: str, known: tuple[str, ...]) -> None:
        shape = key.lower().replace("-", "_").replace(" ", "_")
        close = [shape] if shape in known else difflib.get_close_matches(shape, known, 1, 0.8)
        if close:
            self.warn(where, f"{key!r}: did you mean {close[0]!r}? (kept as an extra key)")

    def json_value(self, where: str, value: object, depth: int = 0) -> Any:
        """An extra key's value as JSON can hold it; kept as close to the original as it can be."""
        if depth > 20:
            raise self.error(where, f"{_label(where)} is nested too deeply", "keep values flat")
        if value is None or isinstance(value, str | bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, dt.datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [self.json_value(where, v, depth + 1) for v in value]
        if isinstance(value, Mapping):
            return {str(k): self.json_value(where, v, depth + 1) for k, v in value.items()}
        raise self.error(
            where,
            f"{_label(where)} holds a {type(value).__name__}, which cannot be stored",
            "use text",
        )


def validate_metadata(
    data: Mapping[str, object],
    *,
    path: Path | None = None,
    lines: Mapping[str, int] | None = None,
) -> tuple[Metadata, list[str]]:
    """Normalised metadata and warnings; MetadataError (with path, line, hint) if invalid.

    ``lines`` maps each key (and ``"people.2"`` for list items) to its line in ``path``. Keys
    given as null or empty text are left out with a warning. No default is added.
    """
    check = _Checker(path, lines)
    result: Metadata = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise check.error(str(key), f"the key {key!r} is not text", "keys are words: title")
        normalised: Any
        if value is None:
            check.warn(key, f"{key!r} has no value and was left out")
            continue
        if key in TEXT_KEYS:
            normalised = check.text(key, value)
        elif key == "kind":
            normalised = check.choice(key, value, KINDS)
        elif key == "sensitivity":
            normalised = check.choice(key, value, SENSITIVITIES)
        elif key == "language":
            normalised = check.language(value)
        elif key in ("date", "created"):
            normalised = check.edtf(key, value, allow_time=key == "created")
        elif key in LIST_KEYS:
            normalised = check.text_list(key, value)
        elif key == "people":
            normalised = check.people(value)
        else:
            check.unknown(key, key, KNOWN_KEYS)
            normalised = check.json_value(key, value)
        if normalised is not None:
            result[key] = normalised
    return result, check.warnings


def load_sidecar(path: Path) -> tuple[Metadata, list[str]]:
    """Read, check and normalise the YAML sidecar at ``path``; MetadataError if it is unfit.

    Refuses files over 1 MiB, text that is not UTF-8, YAML syntax errors, tags, aliases and
    anchors, duplicate keys, non-text keys, a top level that is not a mapping, nesting deeper
    than 20 levels, an empty file, and any value that breaks the schema. Never runs code.
    """
    text = decode_utf8(read_limited(path), path)
    as_written = (*TEXT_KEYS, *LIST_KEYS, "date", "created", "people", "language")
    values, lines = parse_yaml_mapping(text, path, text_keys=as_written)
    return validate_metadata(values, path=path, lines=lines)


def with_defaults(metadata: Mapping[str, Any]) -> Metadata:
    """A copy with the defaults filled in (``sensitivity: restricted``)."""
    result = dict(metadata)
    result.setdefault("sensitivity", DEFAULT_SENSITIVITY)
    return result


def merge_metadata(base: Mapping[str, Any], override: Mapping[str, Any]) -> Metadata:
    """``base`` (the run's ``--meta`` file) overridden key by key by ``override`` (a sidecar).

    Both must already be validated. A key's whole value is replaced (a sidecar's ``tags``
    replace the run's). The result has the defaults filled in.
    """
    merged = dict(base)
    merged.update(override)
    return with_defaults(merged)


def guess_kind(media_type: str) -> str:
    """The kind an artefact of this media type most likely is: photo, audio, video, document
    or other. Never testimony, which only a person can say."""
    major = media_type.split("/", 1)[0]
    if major == "image":
        return "photo"
    if major in ("audio", "video"):
        return major
    if major == "text" or media_type in _DOCUMENT_TYPES or "opendocument" in media_type:
        return "document"
    return "other"


_DOCUMENT_TYPES = {
    "application/pdf",
    "application/rtf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/epub+zip",
}
