"""A compact copy of a segment's text postings, for reading a common term in a millisecond.

Whoosh's W3 codec keeps each posting block as a pickled tuple whose values (the positions)
are one bytes object per posting: reading the 70,000 document numbers of a common word at
100,000 documents costs ~60 ms of unpickling, even when the positions are not needed. A bulk
build therefore also writes, per segment, ``MAIN_<segment>.fastpost``: an SQLite file (read
only through ``immutable=1``, so without locks) with one row per term of the text fields,
holding the document numbers, term frequencies and positions as packed, compressed arrays.

Whoosh names the file with its segment, so it is deleted with it when a merge replaces the
segment. Segments without one (small incremental ones) are read through Whoosh.
"""

from __future__ import annotations

import itertools
import operator
import sqlite3
import sys
import zlib
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["FastPostings", "SidecarReader", "SidecarWriter", "sidecar_name"]

_BIG_ENDIAN = sys.byteorder == "big"
EXTENSION = ".fastpost"


def sidecar_name(segment: Any) -> str:
    """The file name of a segment's sidecar (starts with the segment's ID, as Whoosh's do)."""
    return str(segment.make_filename(EXTENSION))


def _pack(a: array[int]) -> bytes:
    if _BIG_ENDIAN:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _unpack(typecode: str, data: bytes) -> array[int]:
    a = array(typecode, data)
    if _BIG_ENDIAN:
        a.byteswap()
    return a


class _Term:
    __slots__ = ("ids", "offsets", "positions", "tfs")

    def __init__(self) -> None:
        self.ids: array[int] = array("I")
        self.tfs: array[int] = array("I")
        self.offsets: array[int] = array("I", [0])
        self.positions = bytearray()


class SidecarWriter:
    """Collects the postings of one segment as documents are added, then writes them."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = frozenset(fields)
        self._terms: dict[str, dict[bytes, _Term]] = {f: {} for f in self.fields}
        #: The segment's vocabulary (terms of ``words``), for wildcard and fuzzy queries.
        self.vocabulary: set[str] = set()

    def add(self, field: str, docnum: int, items: list[tuple[bytes, int, float, bytes]]) -> None:
        """Record one document's postings of ``field`` (FastText.index output)."""
        terms = self._terms[field]
        for tbytes, freq, _weight, value in items:
            t = terms.get(tbytes)
            if t is None:
                t = terms[tbytes] = _Term()
            t.ids.append(docnum)
            t.tfs.append(freq)
            t.positions += value
            t.offsets.append(len(t.positions) >> 2)

    def write(self, path: Path) -> None:
        """Write the sidecar file (replaced if it exists)."""
        path.unlink(missing_ok=True)
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")  # a cache: rebuilt if damaged
            db.execute(
                "CREATE TABLE postings (field TEXT, term BLOB, ids BLOB, tfs BLOB,"
                " offsets BLOB, positions BLOB, PRIMARY KEY (field, term)) WITHOUT ROWID"
            )
            db.executemany(
                "INSERT INTO postings VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (
                        field,
                        term,
                        _squeeze(_deltas(p.ids)),
                        _squeeze(p.tfs),
                        _squeeze(_deltas(p.offsets)),
                        zlib.compress(bytes(p.positions), 1),
                    )
                    for field, terms in self._terms.items()
                    for term, p in terms.items()
                ),
            )
            db.execute("CREATE TABLE vocabulary (words BLOB)")
            blob = zlib.compress("\n".join(sorted(self.vocabulary)).encode("utf-8"), 1)
            db.execute("INSERT INTO vocabulary VALUES (?)", (blob,))
            db.commit()
        finally:
            db.close()
        self._terms.clear()


def _deltas(a: array[int]) -> array[int]:
    """Differences of consecutive values (ascending input): small numbers compress well."""
    return array("I", map(operator.sub, a, itertools.chain((0,), a)))


def _squeeze(a: array[int]) -> bytes:
    return zlib.compress(_pack(a), 1)


def _expand(data: bytes, deltas: bool = False) -> array[int]:
    a = _unpack("I", zlib.decompress(data))
    return array("I", itertools.accumulate(a)) if deltas else a


class FastPostings:
    """One term's postings in one segment, read from a sidecar."""

    __slots__ = ("_offsets", "_positions", "ids", "weights")

    def __init__(self, ids: bytes, tfs: bytes, offsets: bytes, positions: bytes) -> None:
        self.ids: list[int] = list(itertools.accumulate(_unpack("I", zlib.decompress(ids))))
        self.weights: list[float] = list(map(float, _expand(tfs)))
        self._offsets = offsets
        self._positions = positions

    def position_keys(self, shift: int, docs: set[int] | None = None) -> set[int]:
        """``doc << 32 | position + shift`` for every occurrence (in ``docs`` only, if
        given). Every step is a C-level iterator: no Python code runs per posting."""
        offsets = _expand(self._offsets, deltas=True)
        unpacked = _unpack("I", zlib.decompress(self._positions))
        positions: Iterable[int] = unpacked
        if docs is not None and len(docs) * 16 < len(self.ids):
            # A few documents (ranking by proximity): find them, slice their positions.
            index = dict(zip(self.ids, range(len(self.ids)), strict=True))
            keys: set[int] = set()
            for d in docs:
                i = index.get(d)
                if i is not None:
                    base = d << 32 | shift
                    keys.update(map(base.__add__, unpacked[offsets[i] : offsets[i + 1]]))
            return keys
        counts: Iterable[int] = list(map(operator.sub, itertools.islice(offsets, 1, None), offsets))
        ids: Iterable[int] = self.ids
        if docs is not None:
            chosen = list(map(docs.__contains__, self.ids))
            positions = itertools.compress(
                positions, itertools.chain.from_iterable(map(itertools.repeat, chosen, counts))
            )
            ids = itertools.compress(ids, chosen)
            counts = itertools.compress(counts, chosen)
        bases = map(
            operator.add, map(operator.lshift, ids, itertools.repeat(32)), itertools.repeat(shift)
        )
        per_position = itertools.chain.from_iterable(map(itertools.repeat, bases, counts))
        return set(map(operator.add, per_position, positions))


#: Terms per SQL statement (SQLite allows 32,766 parameters; fewer keeps each query cheap).
_IN_LIST = 500


class SidecarReader:
    """Reads a segment's sidecar; ``get`` returns None for a term it does not hold."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)

    def get(self, field: str, term: bytes) -> FastPostings | None:
        row = self._db.execute(
            "SELECT ids, tfs, offsets, positions FROM postings WHERE field = ? AND term = ?",
            (field, term),
        ).fetchone()
        return None if row is None else FastPostings(*row)

    def ids_of_terms(self, field: str, terms: list[bytes]) -> set[int]:
        """The documents holding any of ``terms``: one query per few hundred terms (a wide
        prefix expands to a thousand, most of them absent from any one segment)."""
        out: set[int] = set()
        for i in range(0, len(terms), _IN_LIST):
            chunk = terms[i : i + _IN_LIST]
            rows = self._db.execute(
                "SELECT ids FROM postings WHERE field = ? AND term IN "
                f"({','.join('?' * len(chunk))})",
                (field, *chunk),
            )
            for (ids,) in rows:
                out.update(itertools.accumulate(_unpack("I", zlib.decompress(ids))))
        return out

    def vocabulary(self) -> frozenset[str]:
        row = self._db.execute("SELECT words FROM vocabulary").fetchone()
        text = zlib.decompress(row[0]).decode("utf-8") if row else ""
        return frozenset(text.split("\n")) - {""}

    def close(self) -> None:
        self._db.close()
