"""`constancia show` and `constancia log`: what people read, what scripts parse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import json_lines

TEXT = "Vi a tres hombres llevarse a mi vecino."
ID = hashlib.sha256(TEXT.encode()).hexdigest()


@pytest.fixture
def filled(run, archive, make_files) -> Path:
    src = make_files({"testimonio.txt": TEXT, "testimonio.txt.yaml": "title: Lo que vi\n"})
    assert run("ingest", src, "--archive", archive).exit_code == 0
    return archive


def test_show_human(run, filled):
    result = run("show", ID[:8], "--archive", filled)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert "title        Lo que vi" in rows and f"sha256       {ID}" in rows
    assert "Custody trail (1 event):" in rows
    (trail,) = [r for r in rows if r.startswith("  #1 ")]
    assert "Ana Pérez: ingested testimonio.txt from " in trail and trail.endswith(f"[{ID[:12]}]")


def test_show_json(run, filled):
    view = json.loads(run("show", ID[:10], "--archive", filled, "--json").stdout)
    assert {"record", "custody", "versions"} <= set(view)
    assert view["id"] == view["record"]["id"] == ID and view["versions"] == 1
    assert view["record"]["original"]["sha256"] == ID
    assert [(e["seq"], e["action"]) for e in view["custody"]] == [(1, "ingest")]


def test_log_human_and_verdict_on_stderr(run, filled):
    result = run("log", "--archive", filled)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["#0", "#1"]
    assert "registered key" in lines[0] and "ingested testimonio.txt" in lines[1]
    assert result.stderr == "chain verified: 2 events, signed checkpoint at 2\n"


def test_log_json_lines_are_the_events(run, filled):
    result = run("log", "--archive", filled, "--json")
    events = json_lines(result.stdout)
    log = (filled / "custody" / "log.jsonl").read_bytes().splitlines()
    assert [e["seq"] for e in events] == [0, 1] and len(log) == 2
    assert [json.loads(line) for line in log] == events
    assert [
        e["action"] for e in json_lines(run("log", ID[:8], "--archive", filled, "--json").stdout)
    ] == ["ingest"]


def test_log_on_tampered_chain_exits_1_naming_the_code(run, filled):
    log = filled / "custody" / "log.jsonl"
    log.write_bytes(log.read_bytes().replace(b"testimonio.txt", b"testimoniO.txt"))
    result = run("log", "--archive", filled)
    assert result.exit_code == 1
    assert "chain verified" not in result.stderr
    assert result.stderr.startswith("EVENT_SIGNATURE_INVALID: ")
