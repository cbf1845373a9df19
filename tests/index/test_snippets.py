"""Snippets mark the words that matched, whatever characters the text is written in."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from index.engine import build_index, open_index
from index.query import SearchQuery
from tests.index.factories import BASE

TEXT = (
    "Declaración de Ana. Los desaparecidos de la Población La Victoria. "
    "Una desaparición forzada, dijo el testigo; Desaparecieron en 1974."
)
VARIANTS = {
    "plain": TEXT,
    # ß folds to two letters and a combining mark to none: the snippet cannot use a folded
    # copy of the text aligned character by character, and takes the slower path.
    "eszett": TEXT.replace("Ana.", "Ana, calle Großmann."),
    "decomposed": unicodedata.normalize("NFD", TEXT),
}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    path = tmp_path_factory.mktemp("ix") / "index"
    docs = [
        replace(BASE, id=name, sha256=name * 8, title=name, text=text, people=("Ana Gutiérrez",))
        for name, text in VARIANTS.items()
    ]
    build_index(path, docs)
    engine = open_index(path, readonly=True)
    out: dict[str, dict[str, str]] = {}
    for query in ("desaparecido", "desapar*", '"población la victoria"', "Gutierres~"):
        hits = engine.search(SearchQuery(query)).hits
        out[query] = {h.id: h.snippet for h in hits}
    engine.close()
    return out


def marked(snippet: str) -> list[str]:
    return [unicodedata.normalize("NFC", w) for w in re.findall(r"\[\[(.+?)\]\]", snippet)]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_stemmed_words_are_marked_in_every_spelling(
    snippets: dict[str, dict[str, str]], variant: str
) -> None:
    found = snippets["desaparecido"][variant]  # the stem "desaparec", not "desaparicion"
    assert marked(found) == ["desaparecidos", "Desaparecieron"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_prefix_and_phrase_words_are_marked(
    snippets: dict[str, dict[str, str]], variant: str
) -> None:
    assert marked(snippets["desapar*"][variant]) == [
        "desaparecidos",
        "desaparición",
        "Desaparecieron",
    ]
    assert marked(snippets['"población la victoria"'][variant]) == ["Población", "Victoria"]


def test_a_misspelt_name_finds_the_documents_and_the_snippet_starts_at_the_start(
    snippets: dict[str, dict[str, str]],
) -> None:
    """The name is in the people field, not the text: the snippet is the text's opening."""
    assert set(snippets["Gutierres~"]) == set(VARIANTS)
    assert all(s.startswith("Declaraci") for s in snippets["Gutierres~"].values())


def test_the_stretch_shown_starts_near_the_first_match_and_is_bounded(tmp_path: Path) -> None:
    text = "palabra " * 200 + "tortura en el cuartel " + "otra " * 200 + "tortura"
    build_index(tmp_path / "ix", [replace(BASE, id="x", sha256="x" * 64, text=text)])
    engine = open_index(tmp_path / "ix", readonly=True)
    (hit,) = engine.search(SearchQuery("torturas")).hits
    assert marked(hit.snippet) == ["tortura"]  # the second lies beyond the stretch shown
    assert hit.snippet.startswith("…palabra") and hit.snippet.endswith("…")
    assert len(hit.snippet) < 300
    engine.close()
