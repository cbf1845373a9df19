"""The index's life cycle: add, replace, delete, rebuild and swap, check, damage, locks."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import index.building
import index.engine
from index.analyzers import english_analyzer, folding_analyzer, spanish_analyzer
from index.documents import IndexDoc
from index.engine import (
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    build_index,
    index_is_current,
    open_index,
)
from index.fastpostings import SidecarReader, SidecarWriter
from index.query import SearchQuery
from index.schema import POSITION_GAP, FastText
from tests.index.factories import BASE


def doc(ident: str, text: str, sha: str | None = None) -> IndexDoc:
    return replace(BASE, id=ident, sha256=sha or f"{ident}-sha", title=ident, text=text)


def found(engine: index.engine.WhooshEngine, text: str) -> list[str]:
    return sorted(h.id for h in engine.search(SearchQuery(text, limit=100)).hits)


def test_add_replaces_by_id_and_delete_removes(tmp_path: Path) -> None:
    engine = open_index(tmp_path / "ix", create=True)
    assert engine.add([doc("a", "tortura"), doc("b", "allanamiento")]) == 2
    assert engine.add([doc("a", "exilio", "a-sha2")]) == 1
    assert found(engine, "tortura") == []
    assert found(engine, "exilio") == ["a"]
    assert engine.digests() == {"a": "a-sha2", "b": "b-sha"}
    assert engine.delete(["b", "nope"]) == 1
    assert found(engine, "*") == ["a"]


def test_the_last_version_in_one_call_wins(tmp_path: Path) -> None:
    engine = open_index(tmp_path / "ix", create=True)
    calls: list[int] = []
    assert engine.add([doc("a", "primero"), doc("a", "segundo")], progress=calls.append) == 1
    assert found(engine, "primero") == [] and found(engine, "segundo") == ["a"]
    assert calls == [1]


def test_a_reader_sees_commits_of_another_engine(tmp_path: Path) -> None:
    writer = open_index(tmp_path / "ix", create=True)
    reader = open_index(tmp_path / "ix", readonly=True)
    assert found(reader, "*") == []
    writer.add([doc("a", "texto")])
    assert found(reader, "*") == ["a"]


def test_reading_works_while_a_writer_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.engine, "LOCK_TIMEOUT", 0.2)
    first = open_index(tmp_path / "ix", create=True)
    first.add([doc("a", "texto")])
    held = first._writer()  # as an ingest in progress would
    try:
        assert found(open_index(tmp_path / "ix", readonly=True), "texto") == ["a"]
        with pytest.raises(IndexBusy):
            open_index(tmp_path / "ix").add([doc("b", "otro")])
    finally:
        held.cancel()
    with pytest.raises(Exception, match="read-only"):
        open_index(tmp_path / "ix", readonly=True).add([doc("c", "x")])


def test_rebuild_swaps_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build_index(path, [doc("old", "viejo")])
    reader = open_index(path, readonly=True)
    old_folder = json.loads((path / "CURRENT").read_text())["folder"]
    during: list[list[str]] = []
    build_index(
        path,
        [doc("new", "nuevo"), doc("newer", "nuevo")],
        progress=lambda n: during.append(found(open_index(path, readonly=True), "*")),
    )
    assert during == [["old"], ["old"]]  # the old index answers until the swap
    # After it, readers (even one opened before) see only the new index.
    assert found(reader, "*") == ["new", "newer"]
    assert found(open_index(path, readonly=True), "viejo") == []
    assert not (path / old_folder).exists()
    assert [p.name for p in path.iterdir() if p.is_dir()] == [
        json.loads((path / "CURRENT").read_text())["folder"]
    ]


def test_a_failed_build_leaves_the_old_index(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build_index(path, [doc("old", "viejo")])

    def docs() -> object:
        yield doc("new", "nuevo")
        raise OSError("disk full")

    with pytest.raises(OSError):
        build_index(path, docs())  # type: ignore[arg-type]
    assert found(open_index(path), "*") == ["old"]
    assert len([p for p in path.iterdir() if p.is_dir()]) == 1


def test_a_large_build_uses_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.engine, "PARALLEL_MIN_DOCS", 20)
    monkeypatch.setattr(index.building, "PER_SEGMENT", 15)
    docs = [doc(f"d{i:02d}", f"palabra{i % 7} común") for i in range(60)]
    later = doc("d05", "palabra5 común corregido")  # a later version of d05, same run
    assert build_index(tmp_path / "ix", [*docs, later]) == 60
    engine = open_index(tmp_path / "ix", readonly=True)
    assert found(engine, "corregido") == ["d05"]
    assert len(engine._current().reader.leaf_readers()) >= 4  # segments from both workers
    assert found(engine, "común") == sorted(d.id for d in docs)
    assert found(engine, "palabra3") == [d.id for d in docs if d.text.startswith("palabra3")]
    assert len(engine.digests()) == 60
    assert list((tmp_path / "ix").glob("v-*/*.fastpost"))  # the bulk segments' sidecars


def test_sidecars_answer_as_whoosh_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [
        doc(f"d{i:02d}", f"la casa {'de piedra' if i % 3 else 'y la piedra'} número{i % 4}")
        for i in range(40)
    ]
    build_index(tmp_path / "serial", docs)
    monkeypatch.setattr(index.engine, "PARALLEL_MIN_DOCS", 10)
    monkeypatch.setattr(index.building, "PER_SEGMENT", 8)
    build_index(tmp_path / "parallel", docs)
    serial = open_index(tmp_path / "serial")
    parallel = open_index(tmp_path / "parallel")
    queries = ("casa", '"casa de piedra"', "piedra número2", "númer*", "casa -número1")
    for round_ in ("built", "after deletions and additions"):
        for text in (*queries, "numero2~", "*mero2", "nu*"):
            a = serial.search(SearchQuery(text, limit=50))
            b = parallel.search(SearchQuery(text, limit=50))
            assert a.total == b.total > 0, (round_, text)
            assert sorted((h.id, round(h.score, 6)) for h in a.hits) == sorted(
                (h.id, round(h.score, 6)) for h in b.hits
            ), (round_, text)
        for engine in (serial, parallel):
            engine.delete(["d01", "d02", "d03"])
            engine.add([doc("n1", "otra casa de piedra número2")])


def test_index_check_reports_drift(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build_index(path, [doc("a", "x"), doc("b", "y"), doc("c", "z")])
    assert index_is_current(path, {"a": "a-sha", "b": "b-sha", "c": "c-sha"}) == []
    drift = index_is_current(path, {"a": "a-sha", "b": "other", "d": "d-sha"})
    assert drift == [
        "1 artefact(s) in the archive but not in the index: d",
        "1 artefact(s) in the index but not in the archive: c",
        "1 artefact(s) indexed with another SHA-256 than the archive's: b",
    ]
    assert "no search index" in index_is_current(tmp_path / "none", {})[0]


def test_missing_and_damaged_indexes_raise(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        open_index(tmp_path / "none")
    path = tmp_path / "ix"
    build_index(path, [doc("a", "texto")])
    folder = path / json.loads((path / "CURRENT").read_text())["folder"]
    for toc in folder.glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage")
    with pytest.raises(IndexCorrupt):
        open_index(path)
    (path / "CURRENT").write_text('{"format": "constancia-index/0", "folder": "v-x"}')
    with pytest.raises(IndexCorrupt, match="format"):
        open_index(path)
    (path / "CURRENT").write_text("not json")
    with pytest.raises(IndexCorrupt):
        open_index(path)


def test_damaged_segments_raise(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build_index(path, [doc(f"d{i}", f"tortura {i} " * 50) for i in range(30)])
    folder = path / json.loads((path / "CURRENT").read_text())["folder"]
    for seg in folder.glob("*.seg"):
        data = seg.read_bytes()
        seg.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt):
        open_index(path).search(SearchQuery("tortura"))


# FastText must give exactly the terms of the analyzer it stands for, or an index would
# disagree with the queries Whoosh's parser analyses.
words = st.text(
    st.sampled_from("aeiouáéíóúñüAEIOUNSTRLCDnstrlcdgmp ,.-;\n1"), min_size=0, max_size=60
)


@settings(max_examples=150, deadline=None)
@given(words, st.sampled_from([spanish_analyzer, english_analyzer, folding_analyzer]))
def test_fast_text_agrees_with_whoosh_analysis(text: str, make: object) -> None:
    analyzer = make()  # type: ignore[operator]
    fast = FastText(analyzer, f"test-{make.__name__}")  # type: ignore[attr-defined]
    got = {t.decode(): (f, v) for t, f, _, v in fast.index(text)}
    fmt = fast.format
    want: dict[str, list[int]] = {}
    for t in analyzer(text, positions=True):
        want.setdefault(t.text, []).append(t.pos)
    assert set(got) == set(want)
    for term, positions in want.items():
        freq, value = got[term]
        assert freq == len(positions)
        decoded = fmt.decode_positions(value)
        # Same relative positions (Whoosh's stop filter may start counting later).
        first = min(min(p) for p in want.values())
        assert decoded == [p - first for p in positions] or _same_gaps(decoded, positions)


def _same_gaps(a: list[int], b: list[int]) -> bool:
    return [x - a[0] for x in a] == [x - b[0] for x in b]


def test_parts_are_kept_apart() -> None:
    fast = FastText(folding_analyzer(), "test-parts")
    got = {t.decode(): fast.format.decode_positions(v) for t, _, _, v in fast.index(("a b", "c"))}
    assert got == {"a": [0], "b": [1], "c": [1 + POSITION_GAP + 1]}


def test_sidecar_round_trip(tmp_path: Path) -> None:
    fast = FastText(folding_analyzer(), "test-sidecar")
    writer = SidecarWriter(["body_xx"])
    texts = [f"uno dos {'tres ' * (i % 3)}uno" for i in range(40)]
    for docnum, text in enumerate(texts):
        writer.add("body_xx", docnum, list(fast.index(text)))
    writer.vocabulary = {"uno", "dos", "tres"}
    writer.write(tmp_path / "seg.fastpost")
    reader = SidecarReader(tmp_path / "seg.fastpost")
    post = reader.get("body_xx", b"uno")
    assert post is not None and post.ids.tolist() == list(range(40))
    assert post.weights.tolist() == [2.0] * 40
    assert reader.get("body_xx", b"cuatro") is None
    assert reader.vocabulary() == {"uno", "dos", "tres"}
    counts, positions = post.occurrences()
    assert counts.tolist() == [2] * 40
    assert positions.tolist() == [p for t in texts for p in (0, len(t.split()) - 1)]
    held = reader.ids_of_terms("body_xx", [b"tres", b"cuatro", b"dos"])  # rows: deltas each
    assert sorted(held.tolist()) == sorted([*range(40), *(i for i in range(40) if i % 3)])
    assert reader.ids_of_terms("body_xx", [b"cuatro"]).tolist() == []
    reader.close()


def _bm25_by_hand(engine: index.engine.WhooshEngine, text: str) -> list[tuple[str, float]]:
    """The ranking of ``text`` computed document by document through Whoosh's own posting
    and length readers: BM25 (K1 1.2, B 0.75) summed over the query's scoring terms."""
    from whoosh import query as wq

    from index.matching import scoring_leaves
    from index.query import parse_text

    searching = engine._current()
    reader = searching.reader
    main = searching.matcher.expand(parse_text(text, searching.parser))
    matched = set(searching.matcher.matches(main).nonzero()[0].tolist())
    n = len(searching.matcher.live().nonzero()[0])
    scores = dict.fromkeys(matched, 0.0)
    for leaf, boost in scoring_leaves(main):
        assert isinstance(leaf, wq.Term | wq.Phrase)
        for word in [leaf.text] if isinstance(leaf, wq.Term) else leaf.words:
            field = leaf.fieldname
            if not reader.doc_frequency(field, word):
                continue
            df = reader.doc_frequency(field, word)
            avgdl = max(reader.field_length(field) / n, 1.0)
            weight = boost * 2.2 * math.log(1 + (n - df + 0.5) / (df + 0.5))
            postings = reader.postings(field, word)
            while postings.is_active():
                docnum, tf = postings.id(), postings.weight()
                length = reader.doc_field_length(docnum, field)
                if docnum in scores:
                    scores[docnum] += weight * tf / (tf + 1.2 * (0.25 + 0.75 * length / avgdl))
                postings.next()
    ids = reader.stored_fields
    return [(ids(d)["id"], s) for d, s in sorted(scores.items(), key=lambda ds: (-ds[1], ds[0]))]


def test_ranking_is_bm25_over_the_matched_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The array ranking gives the scores and order of BM25 computed by hand, document by
    document, from Whoosh's own postings, over several segments and with deletions."""
    import index.matching

    words = ("casa", "piedra", "río", "noche", "camión", "plaza", "puerta", "madre")
    docs = [
        doc(
            f"d{i:03d}",
            " ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 7))
            + (" la casa de piedra" if i % 5 == 0 else ""),
        )
        for i in range(150)
    ]
    monkeypatch.setattr(index.engine, "PARALLEL_MIN_DOCS", 40)
    monkeypatch.setattr(index.building, "PER_SEGMENT", 30)  # several segments
    build_index(tmp_path / "ix", docs[:120])
    engine = open_index(tmp_path / "ix")
    engine.add(docs[120:])  # and a segment written the other way
    engine.delete(["d005", "d010"])
    for text in ('"casa de piedra"', "casa AND piedra AND río", "casa plaza", "madre -noche"):
        by_hand = _bm25_by_hand(engine, text)
        got = engine.search(SearchQuery(text, limit=200))
        assert got.total == len(by_hand) > 0
        assert [h.id for h in got.hits] == [i for i, _ in by_hand]
        assert [h.score for h in got.hits] == pytest.approx([s for _, s in by_hand], rel=1e-12)
        assert "d005" not in {h.id for h in got.hits}
    # An OR of many terms (a wide prefix, once expanded) is matched segment by segment from
    # the sidecars: the same documents as term by term, deleted ones left out.
    wide = ("casa OR piedra OR río OR noche OR madre", "pla*", "cas* -noche", "río OR plaz*")

    def totals(wide_or: int) -> dict[str, tuple[int, list[tuple[str, float]]]]:
        monkeypatch.setattr(index.matching, "_WIDE_OR", wide_or)
        engine.close()
        out = {}
        for text in wide:
            result = engine.search(SearchQuery(text, limit=200))
            out[text] = (result.total, [(h.id, h.score) for h in result.hits])
        return out

    one_by_one = totals(10**9)
    assert totals(0) == one_by_one
    assert all(total > 0 for total, _ in one_by_one.values())
    assert not any(h == "d005" for _, hits in one_by_one.values() for h, _ in hits)


def test_an_index_opened_by_a_relative_path_keeps_its_searcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(tmp_path / "ix", [doc("a", "casa de piedra"), doc("b", "río")])
    monkeypatch.chdir(tmp_path)
    engine = open_index(Path("ix"), readonly=True)
    assert found(engine, "piedra") == ["a"]
    first = engine._searching
    assert found(engine, '"casa de piedra"') == ["a"]
    assert engine._searching is first  # not reopened: its caches survive between searches


def test_date_columns_read_whole_match_whoosh_value_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.searching import _numbers

    docs = [
        replace(
            doc(f"d{i:02d}", "casa"),
            date_start=f"19{70 + i % 20}-0{1 + i % 9}-1{i % 10}",
            date_end=f"19{71 + i % 20}-0{1 + i % 9}-1{i % 10}",
        )
        if i % 4
        else doc(f"d{i:02d}", "casa")
        for i in range(60)
    ]
    monkeypatch.setattr(index.engine, "PARALLEL_MIN_DOCS", 20)
    monkeypatch.setattr(index.building, "PER_SEGMENT", 25)
    build_index(tmp_path / "ix", docs[:50])
    engine = open_index(tmp_path / "ix")
    engine.add(docs[50:])
    reader = engine._current().reader
    for field in ("date_start", "date_end"):
        whole = [v for leaf, _ in reader.leaf_readers() for v in _numbers(leaf, field)]
        assert whole == list(reader.column_reader(field))
        assert any(whole) and 0 in whole
