"""Bringing a field archive home: `constancia import FIELD`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import json_lines
from tests.ingest import import_helpers as h
from tests.ingest.import_helpers import FIELD_FILES, objects, snapshot

field_home, field_run, field = h.field_home, h.field_run, h.field  # fixtures

OCFL_VALIDATE = shutil.which("ocfl-validate.py") or str(
    Path(sys.executable).parent / "ocfl-validate.py"
)


def test_field_archive_import_end_to_end(run, archive, field):
    result = run("import", field, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["counts"] == {"new": 3, "revised": 0, "unchanged": 0} and out["ok"]
    verdict = json.loads(run("verify", "--archive", archive, "--json").stdout)
    assert verdict["ok"] and verdict["artefacts"] == 3, verdict
    for obj in objects(field):
        rel = obj.relative_to(field)
        assert (archive / rel / "v1/content/record.json").read_bytes() == (
            obj / "v1/content/record.json"
        ).read_bytes()
    hits = json_lines(run("search", "desaparecido", "--archive", archive, "--json").stdout)
    assert len(hits) == 1


def test_the_log_records_the_import_and_keeps_the_source_history(run, archive, field):
    assert run("import", field, "--archive", archive).exit_code == 0
    events = json_lines(run("log", "--archive", archive, "--json").stdout)
    actions = [e["action"] for e in events]
    assert actions.count("import") == 3 and actions[-1] == "imported"
    run_event = events[-1]["details"]
    assert run_event["artefacts"]["new"] == 3 and run_event["kind"] == "archive"
    kept = archive / run_event["history"]
    size = run_event["checkpoint"]["size"]
    source_log = (field / "custody/log.jsonl").read_bytes().split(b"\n")[:size]
    assert (kept / "log.jsonl").read_bytes() == b"\n".join(source_log) + b"\n"
    assert (kept / "checkpoint").read_bytes() == (field / "custody/checkpoint").read_bytes()
    signer = [e for e in events if e["details"].get("role") == "imported-signer"]
    assert [e["details"]["fingerprint"] for e in signer] and "Bruno" in signer[0]["details"]["key"]


def test_importing_twice_changes_no_byte(run, archive, field):
    assert run("import", field, "--archive", archive).exit_code == 0
    before = snapshot(archive)
    again = run("import", field, "--archive", archive, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["changed"] is False
    assert snapshot(archive) == before


def test_same_artefact_with_other_metadata_keeps_both_records(run, archive, field, make_files):
    mine = make_files(
        {
            "testimonio-01.txt": FIELD_FILES["testimonio-01.txt"],
            "testimonio-01.txt.yaml": "title: Título de la oficina\n",
        }
    )
    assert run("ingest", mine, "--archive", archive, "-q").exit_code == 0
    out = json.loads(run("import", field, "--archive", archive, "--json").stdout)
    assert out["counts"] == {"new": 2, "revised": 1, "unchanged": 0}
    revised = next(a for a in out["artefacts"] if a["status"] == "revised")
    obj = next(o for o in objects(archive) if revised["id"] in o.name)
    titles = [
        json.loads((obj / f"v{n}/content/record.json").read_bytes())["metadata"]["title"]
        for n in (1, 2)
    ]
    assert titles == ["Título de la oficina", "Testimonio uno"]
    assert json.loads(run("verify", "--archive", archive, "--json").stdout)["ok"]
    again = json.loads(run("import", field, "--archive", archive, "--json").stdout)
    assert again["changed"] is False and again["counts"]["unchanged"] == 3


def test_ocfl_py_accepts_imported_and_revised_objects(run, archive, field, make_files):
    mine = make_files({"carta.txt": FIELD_FILES["carta.txt"]})
    assert run("ingest", mine, "--archive", archive, "-q").exit_code == 0
    assert run("import", field, "--archive", archive).exit_code == 0
    for obj in objects(archive):
        out = subprocess.run(
            [sys.executable, OCFL_VALIDATE, str(obj)], capture_output=True, text=True
        )
        assert out.returncode == 0 and "[W" not in out.stdout, out.stdout


def test_a_later_import_takes_only_what_is_new(run, field_run, archive, field, make_files):
    assert run("import", field, "--archive", archive).exit_code == 0
    more = make_files({"nuevo.txt": "Otro testimonio, recogido después."})
    assert field_run("ingest", more, "--archive", field, "-q").exit_code == 0
    out = json.loads(run("import", field, "--archive", archive, "--json").stdout)
    assert out["counts"] == {"new": 1, "revised": 0, "unchanged": 3}
    kept = sorted(p.name for p in (archive / out["history"]).parent.iterdir())
    assert len(kept) == 2 and out["history"].endswith(str(out["checkpoint"]["size"]))
    assert json.loads(run("verify", "--archive", archive, "--json").stdout)["ok"]


def test_verify_re_proves_the_kept_source_history(run, archive, field):
    out = json.loads(run("import", field, "--archive", archive, "--json").stdout)
    kept = archive / out["history"] / "log.jsonl"
    kept.chmod(0o644)
    kept.write_bytes(kept.read_bytes().replace(b"Bruno", b"Brunx", 1))
    report = json.loads(run("verify", "--archive", archive, "--json").stdout)
    assert {p["code"] for p in report["problems"]} == {"SOURCE_HISTORY_INVALID"}


def test_the_first_batch_is_committed_early_and_every_batch_reaches_the_index(
    run, archive, field, home, monkeypatch
):
    """The index is fed each batch once it is committed, so the first batch is small; the
    batches together still bring in every artefact, and the archive verifies."""
    import archive.importing as importing
    from archive.identity import unlock
    from archive.import_source import plan_source
    from archive.store import Archive
    from tests.conftest import PASSPHRASE

    monkeypatch.setattr(importing, "FIRST_BATCH_FILES", 1)
    monkeypatch.setattr(importing, "BATCH_FILES", 2)
    target = Archive.open(archive)
    signer = unlock(PASSPHRASE, home)
    commits: list[list[str]] = []
    with target.lock():
        report = importing.write_import(
            target, signer, plan_source(field), on_commit=lambda new, _: commits.append(new)
        )
    assert [len(c) for c in commits] == [1, 2]
    assert sorted(a for c in commits for a in c) == sorted(
        o.id for o in report.outcomes if o.status == "new"
    )
    verdict = json.loads(run("verify", "--archive", archive, "--json").stdout)
    assert verdict["ok"] and verdict["artefacts"] == 3, verdict
