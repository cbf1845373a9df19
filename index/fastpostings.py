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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

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
                        _squeeze(_pack(_deltas(p.ids))),
                        _squeeze(_pack(p.tfs)),
                        _squeeze(_pack(_deltas(p.offsets))),
                        _squeeze(bytes(p.positions)),
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


#: Shorter arrays are stored as they are: each zlib.compress call costs ~13 µs however
#: little it is given (most terms of a segment are in one or two documents), which was a
#: quarter of the indexing time. A stored array is either a zlib stream (its first byte is
#: 0x78) or RAW followed by the bytes.
_COMPRESS_FROM = 256
_RAW = b"\x00"


def _squeeze(data: bytes) -> bytes:
    return zlib.compress(data, 1) if len(data) >= _COMPRESS_FROM else _RAW + data


def _plain(data: bytes) -> bytes:
    """The bytes _squeeze was given."""
    return data[1:] if data[:1] == _RAW else zlib.decompress(data)


class FastPostings:
    """One term's postings in one segment, read from a sidecar, as arrays: document numbers
    (ascending, int64) and term frequencies (float64); positions decoded when asked."""

    __slots__ = ("_occurrences", "_offsets", "_positions", "ids", "weights")

    def __init__(self, ids: bytes, tfs: bytes, offsets: bytes, positions: bytes) -> None:
        import numpy as np  # only searches need it: an ingest writes sidecars without it

        self.ids: np.ndarray = np.cumsum(_u4(ids), dtype=np.int64)
        self.weights: np.ndarray = _u4(tfs).astype(np.float64)
        self._offsets = offsets
        self._positions = positions
        self._occurrences: tuple[np.ndarray, np.ndarray] | None = None

    def occurrences(self) -> tuple[np.ndarray, np.ndarray]:
        """(how many positions each posting has, every position one after another)."""
        if self._occurrences is None:
            import numpy as np

            counts = _u4(self._offsets)[1:].astype(np.int64)  # the offsets' deltas
            self._occurrences = (counts, _u4(self._positions))
        return self._occurrences


def _u4(data: bytes) -> np.ndarray:
    """A compressed array written by _pack (4-byte unsigned, little-endian)."""
    import numpy as np

    return np.frombuffer(_plain(data), dtype="<u4")


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

    def ids_of_terms(self, field: str, terms: list[bytes]) -> np.ndarray:
        """The document numbers of the postings of ``terms`` that the segment holds (with
        repeats), one query per few hundred terms: a wide prefix expands to a thousand
        terms, most of them absent from any one segment."""
        import numpy as np

        chunks: list[bytes] = []
        for i in range(0, len(terms), _IN_LIST):
            chunk = terms[i : i + _IN_LIST]
            rows = self._db.execute(
                "SELECT ids FROM postings WHERE field = ? AND term IN "
                f"({','.join('?' * len(chunk))})",
                (field, *chunk),
            )
            chunks += [_plain(ids) for (ids,) in rows]
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        # Each row's numbers are deltas from 0: one running sum over all of them, less the
        # sum reached before each row began.
        lengths = np.array([len(c) >> 2 for c in chunks], dtype=np.int64)
        running = np.cumsum(np.frombuffer(b"".join(chunks), dtype="<u4"), dtype=np.int64)
        ends = np.cumsum(lengths)
        before = np.concatenate([[0], running[ends[:-1] - 1]])
        ids: np.ndarray = running - np.repeat(before, lengths)
        return ids

    def vocabulary(self) -> frozenset[str]:
        row = self._db.execute("SELECT words FROM vocabulary").fetchone()
        text = zlib.decompress(row[0]).decode("utf-8") if row else ""
        return frozenset(text.split("\n")) - {""}

    def close(self) -> None:
        self._db.close()
