"""Searches with real hits: folding, stemming, names, phrases, operators, filters, facets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constancia.errors import UsageError
from index.documents import IndexDoc
from index.engine import WhooshEngine, build_index, open_index
from index.query import SearchQuery
from tests.index.factories import BASE


def doc(ident: str, **fields: object) -> IndexDoc:
    return replace(BASE, id=ident, sha256=ident * 4, **fields)  # type: ignore[arg-type]


DOCS = [
    doc(
        "d1",
        title="Desaparición de Juan",
        text="La desaparición forzada de Juan ocurrió tras el allanamiento de su casa de piedra.",
        people=("Juan González",),
        places=("Villa Quintral",),
        tags=("desaparición",),
        sensitivity="public",
        date="1973-09/1974-03",
        date_start="1973-09-01",
        date_end="1974-03-31",
    ),
    doc(
        "d2",
        title="Declaración",
        text="Los detenidos fueron llevados al estadio. Declaró ante el juez.",
        people=("María Sepúlveda",),
        places=("Estadio Nacional",),
        tags=("detención",),
        kind="document",
        date="1975-05-01",
        date_start="1975-05-01",
        date_end="1975-05-01",
    ),
    doc(
        "d3",
        title="Witness statement",
        text="Soldiers came at night. Pedro saw the arrest of his brother.",
        people=("Pedro Rodríguez",),
        places=("Puerto Almendral",),
        language="en-GB",
        date="1980",
        date_start="1980-01-01",
        date_end="1980-12-31",
    ),
    doc(
        "d4",
        title="Otra casa",
        text="La casa era grande. Una piedra cayó del techo de la casa.",
        places=("Villa Quintral",),
        date="1973-08",
        date_start="1973-08-01",
        date_end="1973-08-31",
    ),
    doc(
        "d5", title="Informe", text="Informe sin idioma sobre la casa.", kind="other", language=None
    ),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> WhooshEngine:
    path = tmp_path_factory.mktemp("ix") / "index"
    build_index(path, DOCS)
    return open_index(path, readonly=True)


def ids(engine: WhooshEngine, text: str = "*", **filters: object) -> list[str]:
    return [h.id for h in engine.search(SearchQuery(text, limit=50, **filters)).hits]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("desaparicion", ["d1"]),  # accents folded
        ("DESAPARICIÓN", ["d1"]),
        ("allanamientos", ["d1"]),  # Spanish inflection
        ("detenido", ["d2"]),
        ("arrested", ["d3"]),  # English stemming: arrested → arrest
        ("Gonzales", ["d1"]),  # names by sound key
        ("Rodrigues", ["d3"]),
        ("Sepulveda", ["d2"]),  # folding
        ("casa NOT piedra", ["d5"]),
        ("casa -piedra", ["d5"]),
        ('title:"otra casa"', ["d4"]),
        ("title:desaparicion", ["d1"]),
        ("Title:desaparicion", ["d1"]),
        ("kind:document", ["d2"]),
        ("kind:Document", ["d2"]),
        ("people:sepulveda", ["d2"]),
        ("places:quintral AND piedra", ["d1", "d4"]),
        ("detenid*", ["d2"]),  # wildcard on unstemmed forms
        ("sold?ers", ["d3"]),
        ("desaparicon~", ["d1"]),  # fuzzy, edit distance 1
        ("Sepulbeda~", ["d2"]),
        ("juez OR soldiers", ["d2", "d3"]),
        ("10:30", []),  # not a field: plain text
    ],
)
def test_query_text_finds(engine: WhooshEngine, text: str, expected: list[str]) -> None:
    assert sorted(ids(engine, text)) == expected


def test_a_phrase_ranks_before_scattered_words(engine: WhooshEngine) -> None:
    assert ids(engine, '"casa de piedra"') == ["d1"]
    # Unquoted, the same words match scattered too, but written together rank first
    # (d4 says "casa" twice, which alone would rank it first).
    assert ids(engine, "casa de piedra") == ["d1", "d4"]
    assert ids(engine, "casa piedra") == ["d1", "d4"]  # stop words aside, the same phrase
    assert ids(engine, "piedra casa") == ["d4", "d1"]  # not in that order: by score


def test_stop_words_do_not_demand_a_match(engine: WhooshEngine) -> None:
    # "de" is kept in the folding-only field; it must not exclude Spanish documents.
    assert "d1" in ids(engine, "casa de piedra")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kind": "testimony"}, ["d1", "d3", "d4"]),
        ({"lang": "en"}, ["d3"]),
        ({"lang": "en-gb"}, ["d3"]),
        ({"place": "villa quintral"}, ["d1", "d4"]),
        ({"place": "Estadio"}, ["d2"]),
        ({"tag": "Desaparicion"}, ["d1"]),
        ({"sensitivity": "public"}, ["d1"]),
        ({"person": "Gonzales"}, ["d1"]),  # fuzzy and phonetic
        ({"person": "Rodrigues"}, ["d3"]),
        ({"person": "Maria Sepulbeda"}, ["d2"]),
        ({"person": "Sepluveda"}, ["d2"]),  # two letters swapped
        ({"person": "Juan Sepúlveda"}, []),  # every word must match
        ({"date_from": "1974", "date_to": "1975"}, ["d1", "d2"]),  # overlap, partial dates
        ({"date_to": "1973-08"}, ["d4"]),  # d1 starts 1973-09
        ({"date_from": "1973-08-31", "date_to": "1973-09-01"}, ["d1", "d4"]),
        ({"date_from": "1981"}, []),
        ({"kind": "testimony", "date_from": "1975"}, ["d3"]),
    ],
)
def test_filters_with_everything(
    engine: WhooshEngine, filters: dict[str, str], expected: list[str]
) -> None:
    assert sorted(ids(engine, "*", **filters)) == expected


def test_filters_and_words_combine(engine: WhooshEngine) -> None:
    assert ids(engine, "casa", place="Villa Quintral", date_to="1973-08") == ["d4"]


def test_pages_split_the_results(engine: WhooshEngine) -> None:
    pages = [engine.search(SearchQuery("*", limit=2, page=p)) for p in (1, 2, 3, 4)]
    assert [r.total for r in pages] == [5, 5, 5, 5]
    seen = [h.id for r in pages for h in r.hits]
    assert sorted(seen) == ["d1", "d2", "d3", "d4", "d5"]
    assert pages[3].hits == []


def test_facets_count_every_match(engine: WhooshEngine) -> None:
    facets = engine.search(SearchQuery("*", facets=True)).facets
    assert facets == {
        "kind": {"testimony": 3, "document": 1, "other": 1},
        "language": {"es": 3, "en": 1, "und": 1},
        "place": {"Villa Quintral": 2, "Estadio Nacional": 1, "Puerto Almendral": 1},
        "decade": {"1970": 3, "1980": 1},
    }
    narrowed = engine.search(SearchQuery("casa", facets=True, kind="testimony")).facets
    assert narrowed is not None and narrowed["kind"] == {"testimony": 2}


def test_a_hit_shows_title_kind_date_score_and_a_marked_snippet(engine: WhooshEngine) -> None:
    (hit,) = engine.search(SearchQuery("allanamientos")).hits
    assert (hit.id, hit.title, hit.kind, hit.date) == (
        "d1",
        "Desaparición de Juan",
        "testimony",
        "1973-09/1974-03",
    )
    assert hit.score > 0
    assert "[[allanamiento]]" in hit.snippet


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("title:(", "parenthesis"),
        ('"casa de piedra', "quotation mark"),
        ("casa)", "parenthesis"),
        ("casa AND", "AND"),
        ("title: casa", "no value"),
        ("titel:casa", "did you mean 'title:'"),
        ("d*", "too broad"),
        ("places:[a TO", "range"),
        ("NOT NOT casa", "cannot be read"),
    ],
)
def test_a_query_that_cannot_be_read_says_why(engine: WhooshEngine, text: str, words: str) -> None:
    with pytest.raises(UsageError) as e:
        engine.search(SearchQuery(text))
    assert words in f"{e.value.message} {e.value.hint}"


@pytest.mark.parametrize(
    "q",
    [
        SearchQuery("*", date_from="1973-13"),
        SearchQuery("*", date_from="1975", date_to="1974"),
        SearchQuery("*", limit=0),
        SearchQuery("*", page=0),
    ],
)
def test_bad_filters_are_usage_errors(engine: WhooshEngine, q: SearchQuery) -> None:
    with pytest.raises(UsageError):
        engine.search(q)


def test_results_report_time(engine: WhooshEngine, tmp_path: Path) -> None:
    assert engine.search(SearchQuery("casa")).took_ms >= 0


query_text = st.lists(
    st.sampled_from([*'abcdeñáé "()*?~:^[]{}-+\\/', " AND ", " OR ", "NOT ", "title:", "kind:"]),
    max_size=20,
).map("".join)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=query_text)
def test_any_query_text_gives_results_or_a_usage_error(engine: WhooshEngine, text: str) -> None:
    try:
        results = engine.search(SearchQuery(text))
    except UsageError as e:
        assert e.message  # a sentence for the user, never a traceback
    else:
        assert results.total >= len(results.hits)
