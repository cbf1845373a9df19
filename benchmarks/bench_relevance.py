"""Relevance of search (issue 3 §5): recall@10 and MRR over a small fictional corpus.

    .venv/bin/python benchmarks/bench_relevance.py [--keep] [--show] [--out FILE]

Ingests ``benchmarks/relevance/corpus/`` (34 fictional artefacts with YAML sidecars, including
a text PDF, a scanned PNG and an image-only PDF for OCR) into a throwaway archive with
``ingest_paths``, runs every query of ``benchmarks/relevance/queries.yaml`` through
``ingest.indexing.search`` and prints, per category and overall:

- **recall@10**: of a query's expected files, the share found in its first 10 hits (averaged
  over queries);
- **MRR**: the mean of 1 / rank of the first expected file (0 when none is in the top 10).

Then every query that missed an expected file (with its actual top 3), every query whose
first hit had to be an expected file and was not (``first: true``), and every file found that
a query says must not be (``absent``). JSON goes to ``benchmarks/out/relevance.json``.

A report, not a test: the exit status is 0 whatever the figures (2 only when the suite itself
cannot run). It prints PASS when overall recall@10 >= 0.95. ``--show`` prints every query's
top 10; ``--keep`` keeps the archive (its path is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from archive.identity import create_identity, unlock  # noqa: E402
from archive.store import Archive  # noqa: E402
from artefacts.edtf import date_interval  # noqa: E402
from constancia.errors import ConstanciaError  # noqa: E402
from index.query import SearchQuery  # noqa: E402
from ingest.indexing import artefact_document, search  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402

SUITE = REPO / "benchmarks" / "relevance"
CORPUS = SUITE / "corpus"
QUERIES = SUITE / "queries.yaml"
OUT = REPO / "benchmarks" / "out" / "relevance.json"
TARGET_RECALL = 0.95
TOP = 10
PASSPHRASE = "relevance benchmark, not for real use"
#: Query keys that become SearchQuery filters (the YAML says from/to, as the CLI does).
FILTERS = ("kind", "lang", "place", "person", "tag", "sensitivity", "from", "to")
_KEYS = {"id", "q", "covers", "expect", "first", "absent", "note", *FILTERS}


class SuiteError(Exception):
    """queries.yaml or the corpus is inconsistent: the figures would mean nothing."""


@dataclass
class Query:
    id: str
    text: str
    covers: list[str]
    expect: list[str]
    filters: dict[str, str]
    first: bool = False
    absent: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Outcome:
    query: Query
    top: list[tuple[str, float]]  # (file name, score) of the first TOP hits
    total: int
    error: str | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.top]

    @property
    def found(self) -> list[str]:
        return [e for e in self.query.expect if e in self.names]

    @property
    def missed(self) -> list[str]:
        return [e for e in self.query.expect if e not in self.names]

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.query.expect)

    @property
    def reciprocal_rank(self) -> float:
        for rank, name in enumerate(self.names, start=1):
            if name in self.query.expect:
                return 1.0 / rank
        return 0.0

    @property
    def first_ok(self) -> bool:
        return not self.query.first or (bool(self.names) and self.names[0] in self.query.expect)

    @property
    def intruders(self) -> list[str]:
        return [a for a in self.query.absent if a in self.names]


# -- the suite ------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    """The artefacts of the corpus: every file but the sidecars."""
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix not in (".yaml", ".yml"))


def load_queries(names: set[str]) -> list[Query]:
    try:
        raw = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SuiteError(f"{QUERIES} cannot be read: {e}") from None
    if not isinstance(raw, list):
        raise SuiteError(f"{QUERIES} must hold a list of queries")
    queries: list[Query] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not {"id", "q", "covers", "expect"} <= item.keys():
            raise SuiteError(f"a query needs id, q, covers and expect: {item!r}")
        unknown = item.keys() - _KEYS
        if unknown:
            raise SuiteError(f"query {item['id']}: unknown keys {sorted(unknown)}")
        if item["id"] in seen:
            raise SuiteError(f"query id {item['id']} appears twice")
        seen.add(item["id"])
        q = Query(
            id=str(item["id"]),
            text=str(item["q"]),
            covers=[str(c) for c in item["covers"]],
            expect=[str(e) for e in item["expect"]],
            filters={k: str(item[k]) for k in FILTERS if k in item},
            first=bool(item.get("first", False)),
            absent=[str(a) for a in item.get("absent", [])],
            note=str(item.get("note", "")).strip(),
        )
        unknown_files = [f for f in q.expect + q.absent if f not in names]
        if not q.expect or unknown_files:
            raise SuiteError(f"query {q.id}: no expected files, or unknown {unknown_files}")
        if len(q.expect) > TOP:
            raise SuiteError(f"query {q.id}: more than {TOP} expected files")
        queries.append(q)
    return queries


def _sidecar(path: Path) -> dict[str, Any]:
    for candidate in (path.with_name(path.name + ".yaml"), path.with_suffix(".yaml")):
        if candidate.is_file():
            data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
    return {}


def _oracle(q: Query, sidecars: dict[str, dict[str, Any]]) -> set[str] | None:
    """For ``*`` queries filtered only by exact fields, the files the sidecars say should
    match (an independent check of queries.yaml); None for queries it cannot judge."""
    if q.text.strip() != "*" or not q.filters or {"place", "person", "tag"} & q.filters.keys():
        return None
    first = date_interval(q.filters["from"])[0] if "from" in q.filters else "0000"
    last = date_interval(q.filters["to"])[1] if "to" in q.filters else "9999"
    out = set()
    for name, meta in sidecars.items():
        if "kind" in q.filters and meta.get("kind") != q.filters["kind"]:
            continue
        language = str(meta.get("language", "und")).lower()
        if "lang" in q.filters and q.filters["lang"].lower() not in (language, language[:2]):
            continue
        if "sensitivity" in q.filters and (
            meta.get("sensitivity", "restricted") != q.filters["sensitivity"]
        ):
            continue
        if "from" in q.filters or "to" in q.filters:
            if "date" not in meta:
                continue
            start, end = date_interval(str(meta["date"]))
            if start > last or end < first:
                continue
        out.add(name)
    return out


# -- running --------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="constancia-relevance-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def build_archive(work: Path) -> tuple[Archive, dict[str, str], list[str]]:
    """A new archive holding the corpus; (archive, artefact id -> file name, notes)."""
    os.environ["CONSTANCIA_KDF_ROUNDS"] = "1"  # a throwaway key: derivation need not be slow
    home = work / "home"
    create_identity("Banco de Relevancia", PASSPHRASE, home)
    signer = unlock(PASSPHRASE, home)
    archive = Archive.create(work / "archive", "Relevancia (ficticio)", signer)
    report = ingest_paths(archive, signer, [CORPUS])
    problems = [
        f"{r.source}: {r.status} {r.error or ''}"
        for r in report.results
        if r.status not in ("ingested",)
    ]
    if problems:
        raise SuiteError("the corpus did not ingest cleanly: " + "; ".join(problems))
    ids = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in corpus_files()}
    return archive, ids, list(report.notes)


def run_query(archive: Archive, ids: dict[str, str], q: Query) -> Outcome:
    f = q.filters.get
    request = SearchQuery(
        text=q.text,
        kind=f("kind"),
        lang=f("lang"),
        place=f("place"),
        person=f("person"),
        tag=f("tag"),
        sensitivity=f("sensitivity"),
        date_from=f("from"),
        date_to=f("to"),
        limit=TOP,
    )
    try:
        results, _ = search(archive, request)
    except ConstanciaError as e:
        return Outcome(q, [], 0, error=f"{type(e).__name__}: {e}")
    top = [(ids.get(h.id, h.id[:12]), round(h.score, 3)) for h in results.hits]
    return Outcome(q, top, results.total)


def extraction_summary(archive: Archive, ids: dict[str, str]) -> dict[str, str]:
    """The start of the indexed text of each non-text original (did PDF text and OCR work?)."""
    out = {}
    for artefact, name in sorted(ids.items(), key=lambda kv: kv[1]):
        if name.endswith((".pdf", ".png", ".jpg")):
            text = artefact_document(archive, artefact).text
            out[name] = " ".join(text.split())[:160] or "(no text)"
    return out


# -- the report -----------------------------------------------------------------------------


@dataclass
class Figures:
    queries: int
    recall_at_10: float
    mrr: float
    missed_queries: int


def figures(outcomes: list[Outcome]) -> Figures:
    return Figures(
        queries=len(outcomes),
        recall_at_10=round(statistics.fmean(o.recall for o in outcomes), 4),
        mrr=round(statistics.fmean(o.reciprocal_rank for o in outcomes), 4),
        missed_queries=sum(1 for o in outcomes if o.missed),
    )


def by_category(outcomes: list[Outcome]) -> dict[str, Figures]:
    names = sorted({c for o in outcomes for c in o.query.covers})
    return {c: figures([o for o in outcomes if c in o.query.covers]) for c in names}


def _describe(q: Query) -> str:
    parts = [repr(q.text)] + [f"{k}={v}" for k, v in q.filters.items()]
    return " ".join(parts)


def _top3(o: Outcome) -> str:
    if o.error:
        return o.error
    if not o.top:
        return "(no hits)"
    return ", ".join(f"{n} ({s})" for n, s in o.top[:3]) + f"  [{o.total} hits]"


def print_report(overall: Figures, categories: dict[str, Figures], outcomes: list[Outcome]) -> None:
    print(f"\n{'category':<16} {'queries':>7} {'recall@10':>10} {'MRR':>7} {'missed':>7}")
    for name, f in [*categories.items(), ("OVERALL", overall)]:
        if name == "OVERALL":
            print("-" * 51)
        print(
            f"{name:<16} {f.queries:>7} {f.recall_at_10:>10.3f} {f.mrr:>7.3f} {f.missed_queries:>7}"
        )
    missed = [o for o in outcomes if o.missed or o.error]
    print(f"\nQueries that missed an expected file in the top {TOP} ({len(missed)}):")
    for o in missed:
        print(f"  {o.query.id}  {_describe(o.query)}  [{', '.join(o.query.covers)}]")
        print(f"      missed: {', '.join(o.missed)}")
        print(f"      top 3:  {_top3(o)}")
        if o.query.note:
            print(f"      note:   {o.query.note}")
    # A query with no expected file in its hits is already listed above.
    order = [o for o in outcomes if not o.first_ok and o.reciprocal_rank]
    print(f"\nQueries whose first hit had to be an expected file ({len(order)} wrong):")
    for o in order:
        print(f"  {o.query.id}  {_describe(o.query)}  top 3: {_top3(o)}")
    intruders = [o for o in outcomes if o.intruders]
    print(f"\nFiles found that must not be ({len(intruders)} queries):")
    for o in intruders:
        print(f"  {o.query.id}  {_describe(o.query)}  found: {', '.join(o.intruders)}")


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the archive")
    parser.add_argument("--show", action="store_true", help="print every query's top 10")
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON report (default {OUT})")
    args = parser.parse_args()

    files = corpus_files()
    names = {p.name for p in files}
    try:
        queries = load_queries(names)
    except SuiteError as e:
        print(f"relevance suite: {e}", file=sys.stderr)
        return 2
    sidecars = {p.name: _sidecar(p) for p in files}
    for q in queries:
        expected = _oracle(q, sidecars)
        if expected is not None and expected != set(q.expect):
            print(
                f"warning: {q.id}: the sidecars say {sorted(expected)}, "
                f"queries.yaml says {sorted(q.expect)}",
                file=sys.stderr,
            )

    with scratch(args.keep) as work:
        t0 = time.perf_counter()
        try:
            archive, ids, notes = build_archive(work)
        except (SuiteError, ConstanciaError) as e:
            print(f"relevance suite: {e}", file=sys.stderr)
            return 2
        ingest_seconds = time.perf_counter() - t0
        print(f"ingested {len(ids)} files in {ingest_seconds:.1f} s", file=sys.stderr)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        extracted = extraction_summary(archive, ids)
        print("\nText indexed from the non-text originals:")
        for name, text in extracted.items():
            print(f"  {name}: {text[:100]}")
        outcomes = [run_query(archive, ids, q) for q in queries]

    if args.show:
        for o in outcomes:
            print(f"\n{o.query.id} {_describe(o.query)}")
            for rank, (name, score) in enumerate(o.top, start=1):
                mark = "*" if name in o.query.expect else " "
                print(f"  {rank:>2}{mark} {name} ({score})")
    overall = figures(outcomes)
    categories = by_category(outcomes)
    print_report(overall, categories, outcomes)
    verdict = "PASS" if overall.recall_at_10 >= TARGET_RECALL else "FAIL"
    print(
        f"\n{verdict}: recall@10 {overall.recall_at_10:.3f} (target >= {TARGET_RECALL}), "
        f"MRR {overall.mrr:.3f}, {overall.queries} queries, {len(ids)} documents"
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "relevance",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "documents": len(ids),
        "target_recall_at_10": TARGET_RECALL,
        "verdict": verdict,
        "overall": asdict(overall),
        "categories": {k: asdict(v) for k, v in categories.items()},
        "extracted_text": extracted,
        "queries": [
            {
                "id": o.query.id,
                "q": o.query.text,
                "filters": o.query.filters,
                "covers": o.query.covers,
                "expect": o.query.expect,
                "first": o.query.first,
                "absent": o.query.absent,
                "note": o.query.note,
                "recall_at_10": round(o.recall, 4),
                "reciprocal_rank": round(o.reciprocal_rank, 4),
                "missed": o.missed,
                "first_ok": o.first_ok,
                "found_but_absent": o.intruders,
                "total": o.total,
                "top": [{"file": n, "score": s} for n, s in o.top],
                "error": o.error,
            }
            for o in outcomes
        ],
    }
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
