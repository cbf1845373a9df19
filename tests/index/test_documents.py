"""IndexDoc from a signed record: what the index is told about an artefact."""

from __future__ import annotations

from typing import Any

from artefacts.metadata import validate_metadata, with_defaults
from artefacts.record import build_record
from index.documents import IndexDoc, doc_from_record

SHA = "ab" * 32


def record(metadata: dict[str, Any], **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "artefact_id": SHA,
        "version": 1,
        "sha256": SHA,
        "sha512": "cd" * 64,
        "size": 10,
        "original_name": "t.txt",
        "original_name_hex": None,
        "logical_path": "t.txt",
        "media_type": "text/plain",
        "kind": "testimony",
        "metadata": metadata,
        "technical": {},
        "ingested": {"at": "2026-01-02T03:04:05Z", "source": "caja/t.txt"},
    }
    args.update(over)
    return build_record(**args)


def test_every_field_comes_from_the_record() -> None:
    checked, _warnings = validate_metadata(
        {
            "title": " Testimonio ",
            "description": "Sobre el allanamiento",
            "language": "es-CL",
            "date": "1973-09/1974-03",
            "created": "1990-05",
            "places": "Villa Quintral",
            "people": ["Ana Pérez", {"name": "Juan González", "role": "victim"}],
            "tags": ["tortura", "detención"],
            "sensitivity": "public",
            "source": "Fondo Vicaría",
        }
    )
    meta = with_defaults(checked)
    doc = doc_from_record(record(meta), "texto extraído")
    assert doc == IndexDoc(
        id=SHA,
        sha256=SHA,
        title="Testimonio",
        text="texto extraído",
        description="Sobre el allanamiento",
        people=("Ana Pérez", "Juan González"),
        places=("Villa Quintral",),
        tags=("tortura", "detención"),
        kind="testimony",
        language="es-CL",
        sensitivity="public",
        date_start="1973-09-01",
        date_end="1974-03-31",
        created="1990-05",
        ingested="2026-01-02T03:04:05Z",
        source="Fondo Vicaría",
        date="1973-09/1974-03",
    )


def test_partial_dates_cover_their_whole_period() -> None:
    doc = doc_from_record(record({"date": "1976"}), "")
    assert (doc.date_start, doc.date_end) == ("1976-01-01", "1976-12-31")
    doc = doc_from_record(record({"date": "1976-02"}), "")
    assert (doc.date_start, doc.date_end) == ("1976-02-01", "1976-02-29")


def test_an_empty_record_gives_defaults_not_errors() -> None:
    doc = doc_from_record(record({}, kind="other"), "")
    assert (doc.title, doc.people, doc.language, doc.date_start) == ("", (), None, None)
    assert doc.sensitivity == "restricted"
    assert doc.source == "caja/t.txt"  # where it was read from, when no one said


def test_a_malformed_value_is_dropped_not_fatal() -> None:
    # Records were validated when signed; a rebuild must still never stop at an odd one.
    rec = record({"date": "197X", "people": [{"role": "witness"}, 7, "Rosa"], "tags": "uno"})
    doc = doc_from_record(rec, "")
    assert (doc.date_start, doc.date_end, doc.date) == (None, None, "197X")
    assert doc.people == ("Rosa",)
    assert doc.tags == ("uno",)


def test_language_guessed_from_the_text_when_neither_declared_nor_recorded() -> None:
    spanish = (
        "Los detenidos fueron llevados al estadio por la noche y nadie supo de ellos durante"
        " meses; la familia los buscó en la comisaría y en el cuartel."
    )
    assert doc_from_record(record({"title": "Sin idioma"}), spanish).language == "es"
    assert doc_from_record(record({"title": "Sin idioma"}), "").language is None
    declared = record({"title": "Declarada", "language": "en"})
    assert doc_from_record(declared, spanish).language == "en"
