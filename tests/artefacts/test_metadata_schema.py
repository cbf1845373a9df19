"""The sidecar schema: every rule, normalisation, warnings, merging and kinds."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from artefacts.metadata import guess_kind, merge_metadata, validate_metadata, with_defaults
from constancia.errors import ExitCode, MetadataError

NORMALISED: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"title": "  Testimonio  "}, {"title": "Testimonio"}),
    ({"title": 1984}, {"title": "1984"}),
    ({"title": 3.5}, {"title": "3.5"}),
    ({"kind": "Testimony"}, {"kind": "testimony"}),
    ({"language": "ES-cl"}, {"language": "es-CL"}),
    ({"language": "sr-latn-rs"}, {"language": "sr-Latn-RS"}),
    ({"date": 1973}, {"date": "1973"}),
    ({"date": dt.date(1973, 9, 11)}, {"date": "1973-09-11"}),
    ({"date": "1973-09/1974-03"}, {"date": "1973-09/1974-03"}),
    ({"created": "2024-03-01T10:20:00Z"}, {"created": "2024-03-01T10:20:00Z"}),
    (
        {"created": dt.datetime(2024, 3, 1, 10, 20, tzinfo=dt.UTC)},
        {"created": "2024-03-01T10:20:00+00:00"},
    ),
    ({"places": "Villa Quintral"}, {"places": ["Villa Quintral"]}),
    ({"places": ["A", "B"]}, {"places": ["A", "B"]}),
    ({"tags": "ficticio"}, {"tags": ["ficticio"]}),
    ({"tags": ["ficticio", 1973]}, {"tags": ["ficticio", "1973"]}),
    ({"people": "José Sepúlveda"}, {"people": [{"name": "José Sepúlveda"}]}),
    (
        {"people": ["María González", {"name": "Rodríguez", "role": "Alleged perpetrator"}]},
        {
            "people": [
                {"name": "María González"},
                {"name": "Rodríguez", "role": "alleged-perpetrator"},
            ]
        },
    ),
    ({"sensitivity": "Confidential"}, {"sensitivity": "confidential"}),
    (
        {"source": "archivo", "collected_by": "equipo", "consent": "oral"},
        {"source": "archivo", "collected_by": "equipo", "consent": "oral"},
    ),
    ({"notes": {"a": [1, 2.5, None, True]}}, {"notes": {"a": [1, 2.5, None, True]}}),
    ({"received": dt.date(2024, 1, 2)}, {"received": "2024-01-02"}),
]


@pytest.mark.parametrize(("given", "expected"), NORMALISED)
def test_values_are_normalised(given: dict[str, Any], expected: dict[str, Any]) -> None:
    metadata, _ = validate_metadata(given)
    assert metadata == expected
    json.dumps(metadata)  # always storable as JSON


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"title": ["a", "b"]}, "not a list"),
    ({"title": {"a": 1}}, "not a set of key: value pairs"),
    ({"title": True}, "yes/no"),
    ({"language": False}, "yes/no"),  # language: no  (the Norway problem)
    ({"description": object()}, "must be a text"),
    ({"kind": "testimonio"}, "not one of testimony"),
    ({"sensitivity": "secret"}, "not one of public"),
    ({"language": "español"}, "not a language tag"),
    ({"language": "es_CL"}, "not a language tag"),
    ({"date": "1973-02-29"}, "not a real calendar day"),
    ({"date": "1974/1973"}, "starts after it ends"),
    ({"date": "2024-03-01T10:20:00Z"}, "time of day"),
    ({"date": True}, "yes/no"),
    ({"created": "ayer"}, "not a date"),
    ({"places": {"a": "b"}}, "not a set of key: value pairs"),
    ({"places": ["a", ["b"]]}, "not a list"),
    ({"people": [{"role": "witness"}]}, "has no name"),
    ({"people": [{"name": "X", "role": "victm"}]}, "not one of witness"),
    ({"people": {"name": ["X"]}}, "not a list"),
]


@pytest.mark.parametrize(("given", "message"), REFUSED)
def test_schema_errors(given: dict[str, Any], message: str) -> None:
    with pytest.raises(MetadataError, match=message) as caught:
        validate_metadata(given, path=Path("x.yaml"), lines={k: 7 for k in given})
    assert caught.value.hint
    assert caught.value.line == 7
    assert caught.value.exit_code == ExitCode.PROBLEMS


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ({"kind": "testimonio"}, "did you mean 'testimony'"),
        ({"people": {"name": "X", "role": "victm"}}, "did you mean 'victim'"),
        ({"language": "es_CL"}, "es-CL"),
        ({"title": True}, 'title: "yes"'),
    ],
)
def test_hints_say_what_to_write(given: dict[str, Any], hint: str) -> None:
    with pytest.raises(MetadataError) as caught:
        validate_metadata(given)
    assert hint in str(caught.value.hint)


def test_list_items_get_their_own_line() -> None:
    lines = {"people": 3, "people.0": 4, "people.1": 5}
    with pytest.raises(MetadataError, match=r"'people' \(item 2\)") as caught:
        validate_metadata({"people": ["A", {"name": "B", "role": "x"}]}, lines=lines)
    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("plces", "places"),
        ("titel", "title"),
        ("Title", "title"),
        ("collected-by", "collected_by"),
        ("sensitivty", "sensitivity"),
        ("langauge", "language"),
    ],
)
def test_misspelt_keys_are_kept_with_a_warning(key: str, suggestion: str) -> None:
    metadata, warnings = validate_metadata({key: "x"}, path=Path("d/s.yaml"), lines={key: 3})
    assert metadata == {key: "x"}
    assert warnings == [
        f"s.yaml, line 3: '{key}': did you mean '{suggestion}'? (kept as an extra key)"
    ]


def test_unrelated_unknown_keys_are_kept_silently() -> None:
    assert validate_metadata({"interviewer_notes": "x"}) == ({"interviewer_notes": "x"}, [])


def test_empty_values_are_left_out_with_a_warning() -> None:
    metadata, warnings = validate_metadata({"title": None, "description": "  ", "tags": ["a", ""]})
    assert metadata == {"tags": ["a"]}
    assert len(warnings) == 3


def test_person_extra_keys_kept_and_misspelt_role_warned() -> None:
    metadata, warnings = validate_metadata({"people": {"name": "Ana", "rol": "witness"}})
    assert metadata == {"people": [{"name": "Ana", "rol": "witness"}]}
    assert "did you mean 'role'" in warnings[0]


def test_sensitivity_defaults_only_when_merged() -> None:
    assert "sensitivity" not in validate_metadata({"title": "t"})[0]
    assert with_defaults({"title": "t"}) == {"title": "t", "sensitivity": "restricted"}


def test_sidecar_overrides_run_metadata_key_by_key() -> None:
    run = {"sensitivity": "confidential", "tags": ["a"], "source": "s"}
    sidecar = {"tags": ["b"], "title": "t"}
    assert merge_metadata(run, sidecar) == {
        "sensitivity": "confidential",
        "tags": ["b"],
        "source": "s",
        "title": "t",
    }
    assert merge_metadata({}, {"title": "t"})["sensitivity"] == "restricted"
    assert (
        merge_metadata({"sensitivity": "public"}, {"sensitivity": "confidential"})["sensitivity"]
        == "confidential"
    )


@pytest.mark.parametrize(
    ("media_type", "kind"),
    [
        ("image/jpeg", "photo"),
        ("image/heic", "photo"),
        ("audio/mpeg", "audio"),
        ("video/mp4", "video"),
        ("text/plain", "document"),
        ("text/markdown", "document"),
        ("application/pdf", "document"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"),
        ("application/vnd.oasis.opendocument.text", "document"),
        ("application/zip", "other"),
        ("application/octet-stream", "other"),
    ],
)
def test_guess_kind(media_type: str, kind: str) -> None:
    assert guess_kind(media_type) == kind


def test_validation_is_idempotent() -> None:
    given = {
        "title": " t ",
        "people": ["A", {"name": "B", "role": "Victim"}],
        "date": 1973,
        "places": "P",
        "language": "ES",
        "extra": {"k": [1]},
    }
    once, _ = validate_metadata(given)
    assert validate_metadata(once) == (once, [])
