"""Data on stdout, people's messages on stderr: `--json` stays clean for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import json_lines

MISSPELT = "title: Carta\nplces: [Villa Esperanza]\n"


def _ingest_misspelt(run, archive, make_files, *extra: str):
    src = make_files({"carta.txt": "Querida hermana:", "carta.txt.yaml": MISSPELT})
    return run("ingest", src, "--archive", archive, *extra)


def test_misspelt_key_warns_and_is_kept(run, archive, make_files):
    result = _ingest_misspelt(run, archive, make_files)
    assert result.exit_code == 0, result.output
    assert "'plces': did you mean 'places'?" in result.stderr
    assert "did you mean" not in result.stdout
    (line,) = result.stdout.splitlines()
    shown = json.loads(run("show", line.split()[1], "--archive", archive, "--json").stdout)
    assert shown["record"]["metadata"]["plces"] == ["Villa Esperanza"]
    assert "places" not in shown["record"]["metadata"]


def test_ingest_json_is_clean_while_warnings_go_to_stderr(run, archive, make_files):
    result = _ingest_misspelt(run, archive, make_files, "--json")
    (line,) = json_lines(result.stdout)  # raises if anything else is on stdout
    assert line["status"] == "ingested" and Path(line["source"]).name == "carta.txt"
    assert "warning:" in result.stderr and "custody log at 2 events" in result.stderr


def test_log_and_verify_json_are_clean_when_problems_are_reported(run, archive, make_files):
    _ingest_misspelt(run, archive, make_files)
    log = archive / "custody" / "log.jsonl"
    log.write_bytes(log.read_bytes().replace(b"carta.txt", b"carte.txt"))
    logged = run("log", "--archive", archive, "--json")
    assert logged.exit_code == 1 and "EVENT_SIGNATURE_INVALID" in logged.stderr
    assert [e["seq"] for e in json_lines(logged.stdout)] == [0, 1]
    verified = run("verify", "--archive", archive, "--json")
    assert verified.exit_code == 1
    report = json.loads(verified.stdout)  # one object, nothing else
    assert "EVENT_SIGNATURE_INVALID" in {p["code"] for p in report["problems"]}


def test_errors_are_one_sentence_on_stderr_with_nothing_on_stdout(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("verify", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    first, hint = result.stderr.splitlines()
    assert first.startswith("constancia: no archive here")
    assert hint.startswith("  hint: ") and "--archive" in hint
