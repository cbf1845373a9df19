"""`constancia import`: output, JSON shape and exit codes (0 ok, 1 refused, 2 cannot run)."""

from __future__ import annotations

import json

from tests.ingest import import_helpers as h
from tests.ingest.import_helpers import objects

field_home, field_run, field = h.field_home, h.field_run, h.field  # fixtures


def test_text_output_lists_new_artefacts_and_a_summary(run, archive, field):
    result = run("import", field, "--archive", archive)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("new ") == 3 and "testimonio-01.txt" in result.stdout
    assert "imported from archive" in result.stderr and "3 new" in result.stderr
    again = run("import", field, "--archive", archive)
    assert again.stdout == "" and "nothing new" in again.stderr


def test_json_output_shape(run, archive, field):
    out = json.loads(run("import", field, "--archive", archive, "--json").stdout)
    assert set(out) == {
        "ok", "source", "kind", "origin", "checkpoint", "package", "history", "changed",
        "counts", "keys", "accepted_unverified", "problems", "log_checkpoint", "artefacts",
    }  # fmt: skip
    assert set(out["checkpoint"]) == {"size", "root"} and out["history"].startswith("custody/")
    assert {a["status"] for a in out["artefacts"]} == {"new"}
    assert set(out["artefacts"][0]) == {"id", "status", "versions", "name"}


def test_a_refusal_names_codes_and_exits_1(run, archive, field):
    original = next((objects(field)[0] / "v1/content/original").iterdir())
    original.chmod(0o644)
    original.write_bytes(b"otra cosa")
    result = run("import", field, "--archive", archive)
    assert result.exit_code == 1
    assert "FIXITY_MISMATCH" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cannot_run_exits_2(run, archive, tmp_path, make_files):
    assert run("import", tmp_path / "nowhere", "--archive", archive).exit_code == 2
    plain = run("import", make_files({"a.txt": "a"}), "--archive", archive)
    assert plain.exit_code == 2 and "neither" in plain.stderr
    inside = run("import", archive / "objects", "--archive", archive)
    assert inside.exit_code == 2
    assert run("import", archive, "--archive", archive).exit_code == 2


def test_accepting_needs_a_reason(run, archive, field):
    result = run("import", field, "--archive", archive, "--accept-unverified", " ")
    assert result.exit_code == 2 and "reason" in result.stderr


def test_only_the_custodian_imports(run, field_run, archive, field):
    result = field_run("import", field, "--archive", archive)
    assert result.exit_code == 2 and "custodian" in result.stderr


def test_a_busy_archive_makes_import_wait_then_fail_clearly(run, archive, field):
    from archive.store import Archive

    with Archive.open(archive).lock(wait=0):
        result = run("import", field, "--archive", archive, "--wait", "0")
    assert result.exit_code == 2 and "another constancia command" in result.stderr
