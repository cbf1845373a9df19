"""Table tests for index/analyzers.py: input text and the exact terms it must give."""

from __future__ import annotations

import pickle
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.analysis import RegexTokenizer
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from index.analyzers import (
    SnowballStemFilter,
    analyzer_for,
    english_analyzer,
    fold,
    folding_analyzer,
    names_analyzer,
    prefix_analyzer,
    spanish_analyzer,
)
from index.sound_key import sound_analyzer

ALL = {
    "spanish": spanish_analyzer,
    "english": english_analyzer,
    "folding": folding_analyzer,
    "prefix": prefix_analyzer,
    "names": names_analyzer,
    "sound": sound_analyzer,
}


def terms(analyzer: Any, text: str) -> list[str]:
    return [t.text for t in analyzer(text)]


SPANISH = [
    ("Desaparición forzada", ["desaparicion", "forz"]),
    ("los detenidos desaparecidos", ["deten", "desaparec"]),
    ("Detención, detencion y detenciones", ["detencion", "detencion", "detencion"]),
    ("allanamiento allanamientos", ["allan", "allan"]),
    ("la organización de las organizaciones", ["organiz", "organiz"]),
    ("torturaron; torturó; torturado; tortura", ["tortur"] * 4),
    ("ejecución ejecuciones ejecutado", ["ejecu", "ejecu", "ejecut"]),
    ("terrorismo de Estado", ["terror", "estad"]),  # "estado" is kept, unlike Snowball's list
    ("Él está aquí, más tarde", ["aqui", "tard"]),  # folded stop words go too
    ("Villa Grimaldi, calle 5", ["vill", "grimaldi", "call", "5"]),
    ("NIÑOS de Ñuñoa", ["nin", "nuno"]),
    ("detenido.Luego 1.500", ["deten", "lueg", "1", "500"]),
    ("el de la y en que a", []),
]


@pytest.mark.parametrize(("text", "expected"), SPANISH)
def test_spanish_terms(text: str, expected: list[str]) -> None:
    assert terms(spanish_analyzer(), text) == expected


SAME_STEM = [
    ["desaparición", "desaparicion", "desapariciones"],
    ["detenido", "detenidos", "detenida", "detenidas"],
    ["desaparecido", "desaparecidos", "desaparecida", "desaparecidas"],
    ["allanamiento", "allanamientos", "allanaron"],
    ["torturaron", "torturado", "torturada", "tortura", "torturas", "torturó", "torturo"],
    ["secuestro", "secuestros", "secuestrado", "secuestraron", "secuestró"],
    ["represión", "represion", "represiones"],
    ["interrogatorio", "interrogatorios"],
    ["compañero", "compañeros", "companera", "compañeras"],
]


@pytest.mark.parametrize("words", SAME_STEM, ids=lambda w: w[0])
def test_spanish_inflections_share_a_stem(words: list[str]) -> None:
    assert len({tuple(terms(spanish_analyzer(), w)) for w in words}) == 1


def test_folding_first_still_splits_some_verb_forms() -> None:
    # The price of folding before stemming: Snowball removes "-ía"/"-ió" only with their
    # accents, so the imperfect and the preterite no longer meet the infinitive.
    assert terms(spanish_analyzer(), "corría corrió correr corrieron") == [
        "corri",
        "corri",
        "corr",
        "corr",
    ]


ENGLISH = [
    ("They were arrested", ["arrest"]),
    ("the arrests, detentions and detention", ["arrest", "detent", "detent"]),
    ("Tortured prisoners disappeared", ["tortur", "prison", "disappear"]),
    ("Café in Santiago", ["cafe", "santiago"]),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH)
def test_english_terms(text: str, expected: list[str]) -> None:
    assert terms(english_analyzer(), text) == expected


FOLDED = [
    ("Desaparición de Muñoz", ["desaparicion", "de", "munoz"]),
    ("Detenidos en la Villa", ["detenidos", "en", "la", "villa"]),
    ("Straße ﬁn Œuvre", ["strasse", "fin", "oeuvre"]),
    ("Пётр Łódź", ["петр", "lodz"]),
    ("a*b O'Higgins", ["a", "b", "o", "higgins"]),
]


@pytest.mark.parametrize("name", ["folding", "prefix", "names"])
@pytest.mark.parametrize(("text", "expected"), FOLDED)
def test_folded_terms(name: str, text: str, expected: list[str]) -> None:
    assert terms(ALL[name](), text) == expected


def test_names_keep_particles_and_initials() -> None:
    got = terms(names_analyzer(), "María de los Ángeles J. González-Yáñez")
    assert got == ["maria", "de", "los", "angeles", "j", "gonzalez", "yanez"]


ACCENT_PAIRS = [
    ("Desaparición de Sepúlveda en Ñuñoa", "Desaparicion de Sepulveda en Nunoa"),
    ("La detención fue en el cuartel", "la detencion fue en el cuartel"),
    ("Él está aquí más tarde", "El esta aqui mas tarde"),
    ("Testimonio de José Pérez Gutiérrez", "TESTIMONIO DE JOSE PEREZ GUTIERREZ"),
]


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize(("accented", "plain"), ACCENT_PAIRS)
def test_accents_and_case_do_not_matter(name: str, accented: str, plain: str) -> None:
    analyzer = ALL[name]()
    assert terms(analyzer, accented) == terms(analyzer, plain)


@pytest.mark.parametrize("name", sorted(ALL))
def test_decomposed_text_gives_same_terms_and_true_offsets(name: str) -> None:
    nfc = "Detención de Muñoz"
    nfd = unicodedata.normalize("NFD", nfc)
    analyzer = ALL[name]()
    assert terms(analyzer, nfd) == terms(analyzer, nfc)
    spans = [nfd[t.startchar : t.endchar] for t in analyzer(nfd, chars=True)]
    assert spans[-1] == unicodedata.normalize("NFD", "Muñoz")


LANGUAGES = [
    ("es", "spanish"),
    ("es-CL", "spanish"),
    ("ES_419", "spanish"),
    ("spa", "spanish"),
    ("Spanish", "spanish"),
    ("en", "english"),
    ("en-GB", "english"),
    ("eng", "english"),
    ("arn", "folding"),
    ("fr", "folding"),
    ("", "folding"),
    (None, "folding"),
]


@pytest.mark.parametrize(("language", "name"), LANGUAGES)
def test_analyzer_for(language: str | None, name: str) -> None:
    assert analyzer_for(language) == ALL[name]()


@pytest.mark.parametrize("name", sorted(ALL))
def test_pickle_round_trip(name: str) -> None:
    analyzer = ALL[name]()
    copy = pickle.loads(pickle.dumps(analyzer))
    text = "Los detenidos desaparecidos: Ximénez, Sepúlveda, detención"
    assert copy == analyzer
    assert terms(copy, text) == terms(analyzer, text)


def test_stem_filters_for_different_languages_differ() -> None:
    # Whoosh's StemFilter compares equal across languages; ours must not.
    assert SnowballStemFilter("es") != SnowballStemFilter("en")
    assert spanish_analyzer() != english_analyzer()


@pytest.mark.parametrize("name", sorted(ALL))
@given(text=st.text())
def test_never_raises_and_gives_nonempty_str_terms(name: str, text: str) -> None:
    got = terms(ALL[name](), text)
    assert all(isinstance(t, str) and t for t in got)


@given(text=st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_whoosh_index_on_disk_keeps_the_analyzers(tmp_path: Path) -> None:
    schema = Schema(
        id=ID(stored=True),
        body=TEXT(analyzer=spanish_analyzer()),
        words=TEXT(analyzer=prefix_analyzer()),
        names=TEXT(analyzer=sound_analyzer()),
    )
    text = "Detención y desaparición de Juan Ximénez en Villa Grimaldi"
    writer = whoosh_index.create_in(str(tmp_path), schema).writer()
    writer.add_document(id="1", body=text, words=text, names="Juan Ximénez")
    writer.commit()
    ix = whoosh_index.open_dir(str(tmp_path))  # unpickles the schema
    with ix.searcher() as searcher:
        for field, query in [("body", "desaparicion detenciones"), ("words", "DETENC*")]:
            q = QueryParser(field, ix.schema).parse(query)
            assert [hit["id"] for hit in searcher.search(q)] == ["1"], query
        q = QueryParser("names", ix.schema).parse("Jiménez")
        assert [hit["id"] for hit in searcher.search(q)] == ["1"]


# Published Snowball vocabulary and stems (github.com/snowballstem/snowball-data, files
# spanish/diffs.txt and english/diffs.txt): whoosh's stemmers must agree with them.
SNOWBALL_ES = (
    "abandonó abandon, abandonaron abandon, abastecimientos abastec, abdicación abdic, "
    "aberración aberr, abolición abolicion, abrió abri, abrirá abrir, abrirán abriran, "
    "acción accion, accion accion, acciones accion, aceptación acept, acercándose acerc, "
    "acompañaron acompañ, acné acne, académicos academ, cortázar cortaz, creación creacion, "
    "creacion creacion, creaciones creacion, crímenes crimen, crimen crim, criticó critic, "
    "cuándo cuand, cuáles cual, corrupción corrupcion, corrosión corrosion, corría corr, "
    "corrió corr, correr corr, discriminación discrimin, disminución disminu, "
    "distribución distribu, disposición disposicion, disposiciones disposicion, diseñó diseñ, "
    "documentación document, dólares dolar, dólar dol, doña doñ, domínguez dominguez, "
    "dispararon dispar, disparos dispar, cubriéndonos cubr, abuelitos abuelit, "
    "acostumbraban acostumbr, aconséjeme aconsejem, achacársela achac, abrirse abrirs, "
    "abstuviera abstuv, absolvió absolv, dormí dorm, dormía dorm, dolorosa dolor, "
    "cristalización cristaliz, crédito credit, créditos credit, creditos credit, "
    "cronómetro cronometr, cuadriláteros cuadrilater"
)

SNOWBALL_EN = (
    "attack attack, attacked attack, attention attent, attentively attent, authorities author, "
    "authority author, authorized author, avoidance avoid, awfully aw, awful aw, axes axe, "
    "babies babi, baby babi, badly bad, baked bake, baking bake, banishment banish, "
    "bankruptcy bankruptci, bargaining bargain, barely bare, baring bare, attributed attribut, "
    "audacity audac, austerity auster, aversion avers, averred aver, azingly aze, "
    "auxiliary auxiliari, authenticity authent, attorneys attorney"
)


@pytest.mark.parametrize(("lang", "vectors"), [("es", SNOWBALL_ES), ("en", SNOWBALL_EN)])
def test_stemmer_matches_published_snowball_vectors(lang: str, vectors: str) -> None:
    words, stems = zip(*(item.split() for item in vectors.split(", ")), strict=True)
    stemmer = RegexTokenizer() | SnowballStemFilter(lang)
    assert tuple(terms(stemmer, " ".join(words))) == stems
