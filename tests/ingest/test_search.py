"""Search as an investigator uses it, on the fictional samples, through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import json_lines

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "villa-quintral"


@pytest.fixture
def filled(run, archive) -> Path:
    assert run("ingest", SAMPLES, "--archive", archive).exit_code == 0
    return archive


def names(run, archive: Path, *args: str) -> list[str]:
    """File names of the hits, best first."""
    result = run("search", *args, "--archive", archive, "--json", "--limit", "50")
    assert result.exit_code == 0, result.output
    ids = [h["id"] for h in json_lines(result.stdout) if "id" in h]
    out = []
    for i in ids:
        shown = json.loads(run("show", i, "--archive", archive, "--json").stdout)
        out.append(shown["record"]["original"]["name"])
    return out


def test_unaccented_words_find_accented_text(run, filled):
    assert "testimonio_maria_gonzalez.txt" in names(run, filled, "detencion")


def test_misspelt_names_find_the_person(run, filled):
    for spelling in ("Sepulveda", "Sepúlbeda", "Gonzales", "Rodrigues"):
        assert "testimonio_maria_gonzalez.txt" in names(run, filled, "--person", spelling)


def test_english_stemming(run, filled):
    assert "statement_anne_whitford.txt" in names(run, filled, "volunteers")


def test_text_only_inside_the_pdf_is_found(run, filled):
    assert "carta_comite_1976.pdf" in names(run, filled, "paradero")


def test_filters_kind_and_date_overlap(run, filled):
    assert names(run, filled, "*", "--kind", "photo") == ["placa_memorial.jpg"]
    overlapping = names(run, filled, "*", "--from", "1974", "--to", "1975")
    assert "testimonio_maria_gonzalez.txt" in overlapping  # 1973-09/1974-03
    assert "testimonio_maria_gonzalez.txt" not in names(run, filled, "*", "--to", "1973-08")


def test_json_lines_fields_and_facets(run, filled):
    result = run("search", "*", "--facets", "--archive", filled, "--json")
    lines = json_lines(result.stdout)
    assert {"id", "title", "kind", "date", "score", "snippet"} <= set(lines[0])
    facets = lines[-1]["facets"]
    assert facets["kind"]["testimony"] >= 3 and "decade" in facets


def test_unreadable_query_is_a_plain_sentence(run, filled):
    result = run("search", 'title:"sin cerrar', "--archive", filled)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith("constancia:")


def test_missing_or_corrupt_index_is_rebuilt_with_a_message(run, filled):
    shutil.rmtree(filled / "index")
    result = run("search", "Sepulveda", "--archive", filled, "--json")
    assert result.exit_code == 0 and json_lines(result.stdout)
    assert "rebuilt" in result.stderr
    for f in (filled / "index").rglob("*.seg"):
        f.write_bytes(b"garbage")
    for f in (filled / "index").rglob("*.toc"):
        f.write_bytes(b"garbage")
    again = run("search", "Sepulveda", "--archive", filled, "--json")
    assert again.exit_code == 0 and json_lines(again.stdout)


def test_index_check_and_rebuild(run, filled):
    assert run("index", "check", "--archive", filled).exit_code == 0
    shutil.rmtree(filled / "index")
    assert run("index", "check", "--archive", filled).exit_code == 1
    assert run("index", "rebuild", "--archive", filled).exit_code == 0
    assert run("index", "check", "--archive", filled).exit_code == 0


def test_search_never_modifies_the_archive_and_verify_ignores_the_index(run, filled):
    def snapshot() -> dict[str, bytes]:
        return {
            p.relative_to(filled).as_posix(): p.read_bytes()
            for p in filled.rglob("*")
            if p.is_file() and "index" not in p.relative_to(filled).parts[:1]
        }

    before = snapshot()
    run("search", "Sepulveda", "--archive", filled)
    assert snapshot() == before
    shutil.rmtree(filled / "index")
    assert run("verify", "--archive", filled).exit_code == 0
