"""Segments written by the bulk build hold exactly what Whoosh's own writer would write."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from whoosh.writing import SegmentWriter

from index import building
from index.engine import _read_current, open_index
from tests.index.factories import BASE

# Many postings per common term (several blocks of BLOCK_POSTINGS), rare terms, names,
# places, tags, and fields that only some documents have.
WORDS = ["casa", "piedra", "detenido", "tortura", "río", "norte", "madre", "hijo", "camión"]


def _docs(n: int) -> list[Any]:
    out = []
    for i in range(n):
        text = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 3 + i % 9))
        out.append(
            replace(
                BASE,
                id=f"d{i:04d}",
                sha256=f"{i:064x}",
                title=f"Testimonio {i}",
                text=f"{text} palabra{i} {'común ' * (i % 5)}",
                people=(f"Persona {i % 13}",) if i % 2 else (),
                places=("Villa Quintral",) if i % 3 == 0 else (),
                tags=(f"t{i % 4}",),
                date_start="1974-03-01" if i % 4 == 0 else None,
                date_end="1974-03-31" if i % 4 == 0 else None,
            )
        )
    return out


def _postings(folder: Path) -> dict[tuple[str, bytes], list[tuple[str, float, bytes, int]]]:
    """Every posting of the one-segment index in ``folder``, keyed by (field, term), with
    the document's ID, the weight, the value bytes and the field's length in the document."""
    ix = building._open(str(folder))
    out: dict[tuple[str, bytes], list[tuple[str, float, bytes, int]]] = {}
    with ix.reader() as reader:
        ids = {n: f["id"] for n, f in reader.iter_docs()}
        for field, term in reader.all_terms():
            m = reader.postings(field, term)
            rows = []
            while m.is_active():
                n = m.id()
                length = reader.doc_field_length(n, field, 0)
                rows.append((ids[n], m.weight(), m.value(), length))
                m.next()
            out[(field, term)] = rows
    return out


def test_bulk_segment_postings_equal_whooshs_own(tmp_path: Path) -> None:
    docs = _docs(1_300)  # the common words fill more than two blocks of 512 postings
    # Whoosh's own way: its writer, its add_postings, its commit.
    open_index(tmp_path / "own", create=True)
    own = building._open(str(_read_current(tmp_path / "own")))
    writer = own.writer()
    building.add_serial(writer, docs, replace=False, progress=None)
    writer.commit()
    # Ours: a segment finalized by _finalize, listed in the table of contents as
    # ParallelBuild.commit does.
    open_index(tmp_path / "bulk", create=True)
    folder = _read_current(tmp_path / "bulk")
    bulk = building._open(str(folder))
    seg = building.plain_small_blocks(
        SegmentWriter(bulk, _lk=False, compound=False, codec=building.new_codec())
    )
    filler = building._Filler(seg)
    for d in docs:
        filler.add(d)
    filler.add_vocabulary()
    segment = building._finalize(filler.writer)
    toc = bulk.writer()
    toc._close_segment()
    toc._commit_toc([*toc.segments, segment])
    toc._finish()

    ours, theirs = _postings(folder), _postings(_read_current(tmp_path / "own"))
    assert ours.keys() == theirs.keys()
    assert len(ours) > 1_000
    assert max(len(rows) for rows in ours.values()) > 2 * building.BLOCK_POSTINGS
    for key, rows in theirs.items():
        assert ours[key] == rows, key
