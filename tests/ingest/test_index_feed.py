"""A large ingest or import indexes while it goes: worker processes analyse each batch while
the next is staged, and one commit at the end lists what they wrote (ingest.indexing's
RunIndexer). The thresholds are lowered here so a dozen files take that path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import index.building
import ingest.indexing
from tests.conftest import Run, json_lines
from tests.ingest.import_helpers import field, field_home, field_run  # noqa: F401

SURNAMES = (
    "Albornoz",
    "Bascuñán",
    "Cifuentes",
    "Echeverría",
    "Fuenzalida",
    "Gajardo",
    "Huenchullán",
    "Irarrázaval",
    "Jofré",
    "Leiva",
    "Maturana",
    "Ñancupil",
)


def make_testimonies(names: tuple[str, ...], place: str) -> dict[str, str]:
    files = {}
    for n, name in enumerate(names):
        stem = f"testimonio-{place.lower()}-{n:02d}"
        files[f"{stem}.txt"] = (
            f"Relato ficticio de la familia {name}. Vimos llegar el camión a {place} "
            "una noche de invierno; nadie supo adónde los llevaron."
        )
        files[f"{stem}.txt.yaml"] = f"title: Testimonio {name}\nlanguage: es\nplaces: [{place}]\n"
    return files


def ingest_about(
    run: Run,
    archive: Path,
    make_files: Callable[..., Path],
    names: tuple[str, ...],
    place: str,
    *args: str,
) -> Result:
    """`constancia ingest` of fictional testimonies about ``names`` set in ``place``."""
    return run("ingest", make_files(make_testimonies(names, place)), "--archive", archive, *args)


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every run of 3+ files feeds worker processes; segments of 4, the last kept short.
    Returns the feeds started (to show the path was taken)."""
    monkeypatch.setattr(ingest.indexing, "FEED_MIN_FILES", 3)
    monkeypatch.setattr(ingest.indexing, "FEED_PER_SEGMENT", 4)
    monkeypatch.setattr(ingest.indexing, "_SEND_EVERY", 2)
    monkeypatch.setattr(index.building, "LAST_SEGMENT", 1)
    monkeypatch.setattr(index.building, "_BATCH", 2)
    started: list[object] = []
    real = ingest.indexing.IndexFeed

    def recording(*args: object, **kwargs: object) -> object:
        made = real(*args, **kwargs)  # type: ignore[arg-type]
        started.append(made)
        return made

    monkeypatch.setattr(ingest.indexing, "IndexFeed", recording)
    return started


def hits(run: Run, archive: Path, query: str) -> list[str]:
    result = run("search", query, "--archive", archive, "--json", "--limit", "50")
    assert result.exit_code == 0, result.output
    return sorted(h["id"] for h in json_lines(result.stdout) if "id" in h)


def ingested(result_stdout: str) -> dict[str, str]:
    """source file name -> artefact ID of every file ingested."""
    return {
        Path(r["source"]).name: r["id"]
        for r in json_lines(result_stdout)
        if r.get("status") == "ingested"
    }


def segment_count(archive: Path) -> int:
    current = json.loads((archive / "index" / "whoosh" / "CURRENT").read_text())
    folder = archive / "index" / "whoosh" / current["folder"]
    return len(list(folder.glob("MAIN_*.trm")))


def test_a_large_first_ingest_indexes_while_it_goes(run, archive, make_files, feed):
    result = ingest_about(run, archive, make_files, SURNAMES, "Quilicura", "--json")
    assert result.exit_code == 0, result.output
    ids = ingested(result.stdout)
    assert len(ids) == len(SURNAMES) and len(feed) == 1
    assert segment_count(archive) > 1  # written by the workers, several segments
    for n, name in enumerate(SURNAMES):
        assert hits(run, archive, name) == [ids[f"testimonio-quilicura-{n:02d}.txt"]], name
    assert hits(run, archive, "Quilicura") == sorted(ids.values())
    assert run("index", "check", "--archive", archive).exit_code == 0
    # The same answers as an index built from scratch by one process.
    queries = ["camion", "noche invierno", '"llegar el camión"', "Bascunan", "Irarrazabal~"]
    before = {q: hits(run, archive, q) for q in queries}
    assert run("index", "rebuild", "--archive", archive).exit_code == 0
    assert {q: hits(run, archive, q) for q in queries} == before
    assert before["camion"] == sorted(ids.values())


def test_a_feed_adds_to_an_existing_index(run, archive, make_files, feed):
    first = ingest_about(run, archive, make_files, SURNAMES[:2], "Renca", "--json")
    assert first.exit_code == 0 and not feed  # two files: indexed at the end, as before
    second = ingest_about(run, archive, make_files, SURNAMES[2:], "Lampa", "--json")
    assert second.exit_code == 0 and len(feed) == 1
    assert hits(run, archive, "Renca") == sorted(ingested(first.stdout).values())
    assert hits(run, archive, "Lampa") == sorted(ingested(second.stdout).values())
    assert len(hits(run, archive, "camion")) == len(SURNAMES)
    check = run("index", "check", "--archive", archive)
    assert check.exit_code == 0, check.output


def test_a_dead_index_worker_costs_nothing(run, archive, make_files, feed, monkeypatch):
    """A worker that dies is noticed; the run indexes everything at the end instead."""
    real = ingest.indexing.RunIndexer.committed

    def kill_a_worker(self, ids, **kw):  # type: ignore[no-untyped-def]
        if self._feed is not None:
            proc = self._feed._build._procs[0]
            proc.kill()
            proc.join()
        return real(self, ids, **kw)

    monkeypatch.setattr(ingest.indexing.RunIndexer, "committed", kill_a_worker)
    result = ingest_about(run, archive, make_files, SURNAMES, "Colina", "--json")
    assert result.exit_code == 0, result.output
    assert len(feed) == 1
    assert hits(run, archive, "Colina") == sorted(ingested(result.stdout).values())
    assert run("index", "check", "--archive", archive).exit_code == 0
    search = run("search", "Colina", "--archive", archive)
    assert "missed" not in search.stderr and "rebuilt" not in search.stderr


def test_no_index_leaves_the_index_to_the_next_search(run, archive, make_files):
    result = ingest_about(run, archive, make_files, SURNAMES[:3], "Pirque", "--no-index", "--json")
    assert result.exit_code == 0, result.output
    assert "left for later" in result.stderr
    assert not (archive / "index" / "whoosh" / "CURRENT").exists()
    assert run("verify", "--archive", archive).exit_code == 0
    search = run("search", "Pirque", "--archive", archive, "--json")
    assert search.exit_code == 0
    assert sorted(h["id"] for h in json_lines(search.stdout) if "id" in h) == sorted(
        ingested(result.stdout).values()
    )
    assert "rebuilt" in search.stderr


def test_a_later_run_catches_up_what_an_earlier_one_left_out(run, archive, make_files, feed):
    """Artefacts a run did not index (--no-index here; a kill does the same) are added by
    the next run, so no search has to."""
    base = ingest_about(run, archive, make_files, SURNAMES[:1], "Buin")
    assert base.exit_code == 0
    later = ingest_about(run, archive, make_files, SURNAMES[1:4], "Paine", "--no-index", "--json")
    assert later.exit_code == 0 and not feed
    last = ingest_about(run, archive, make_files, SURNAMES[4:], "Talagante", "--json")
    assert last.exit_code == 0 and len(feed) == 1
    check = run("index", "check", "--archive", archive)
    assert check.exit_code == 0, check.output
    search = run("search", "Paine", "--archive", archive, "--json")
    assert "missed" not in search.stderr and "rebuilt" not in search.stderr
    assert sorted(h["id"] for h in json_lines(search.stdout) if "id" in h) == sorted(
        ingested(later.stdout).values()
    )


def test_an_import_indexes_while_it_goes(run, archive, field, feed):  # noqa: F811
    result = run("import", field, "--archive", archive)
    assert result.exit_code == 0, result.output
    assert len(feed) == 1
    assert len(hits(run, archive, "Quintral")) == 1
    assert len(hits(run, archive, "desaparecido")) == 1
    check = run("index", "check", "--archive", archive)
    assert check.exit_code == 0, check.output


def test_a_failed_run_commits_no_segment(run, archive, make_files, feed, monkeypatch):
    """A run that fails mid-way stops the workers; what they wrote is never listed."""
    import ingest.pipeline

    calls = {"n": 0}
    real = ingest.pipeline._Run.ingest_file

    def fail_late(self, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(ingest.pipeline._Run, "ingest_file", fail_late)
    result = ingest_about(run, archive, make_files, SURNAMES, "Melipilla")
    assert result.exit_code != 0
    assert len(feed) == 1 and all(not p.is_alive() for p in feed[0]._build._procs)
    monkeypatch.setattr(ingest.pipeline._Run, "ingest_file", real)
    # What was committed before the failure is searchable (the next search catches up).
    assert run("verify", "--archive", archive).exit_code == 0
    found = hits(run, archive, "Melipilla")
    assert 1 <= len(found) <= 6
    assert run("index", "check", "--archive", archive).exit_code == 0


def test_a_run_of_duplicates_stops_its_workers(run, archive, make_files, feed):
    folder = make_files(make_testimonies(SURNAMES[:4], "Pomaire"))
    assert run("ingest", folder, "--archive", archive).exit_code == 0
    again = run("ingest", folder, "--archive", archive, "--json")
    assert again.exit_code == 0
    assert {r["status"] for r in json_lines(again.stdout)} == {"duplicate"}
    assert len(feed) == 2
    assert all(not p.is_alive() for p in feed[1]._build._procs)
    assert run("index", "check", "--archive", archive).exit_code == 0
