"""SIGKILL `constancia import` at the worst moments: the archive stays valid (only
recoverable findings), the next command finishes or cleans up, a rerun completes the import,
and nothing is doubled or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import json_lines
from tests.ingest import import_helpers as h
from tests.ingest.import_helpers import FIELD_FILES, objects

field_home, field_run, field = h.field_home, h.field_run, h.field  # fixtures

POINTS = ["before-log-append", "after-log-append", "after-install", "before-checkpoint"]
RECOVERABLE = {"INCOMPLETE_INGEST", "INTERRUPTED_WRITE", "LOG_UNCHECKPOINTED", "LOG_TORN_WRITE"}


def _cli(*args: str | Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"CONSTANCIA_FAULT": fault} if fault else {})}
    return subprocess.run(
        [sys.executable, "-m", "constancia", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


def _codes(archive: Path) -> set[str]:
    report = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    return {p["code"] for p in report["problems"]}


def _imports(archive: Path) -> list[dict]:
    events = json_lines(_cli("log", "--archive", archive, "--json").stdout)
    return [e for e in events if e["action"] == "import"]


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_kill_import_then_rerun(home, archive, field, point):
    killed = _cli("import", field, "--archive", archive, fault=point)
    assert killed.returncode == -signal.SIGKILL
    assert _codes(archive) <= RECOVERABLE
    again = _cli("import", field, "--archive", archive, "--json")
    assert again.returncode == 0, again.stderr
    assert _codes(archive) == set() and len(objects(archive)) == 3
    assert sorted(e["artefact"] for e in _imports(archive)) == sorted(
        o.name[15:] for o in objects(archive)
    )
    last = json_lines(_cli("log", "--archive", archive, "--json").stdout)[-1]
    assert last["action"] == "imported"  # the rerun records the interrupted run


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-log-append", "after-log-append"])
def test_kill_while_adding_a_record_version(home, run, archive, field, make_files, point):
    mine = make_files({"carta.txt": FIELD_FILES["carta.txt"], "carta.txt.yaml": "title: Mía\n"})
    assert run("ingest", mine, "--archive", archive, "-q").exit_code == 0
    assert _cli("import", field, "--archive", archive, fault=point).returncode < 0
    assert _codes(archive) <= RECOVERABLE
    other = _cli("ingest", make_files({"otro.txt": "otro"}), "--archive", archive, "-q")
    assert other.returncode == 0, other.stderr  # any writing command repairs
    assert _codes(archive) == set()
    assert _cli("import", field, "--archive", archive).returncode == 0
    carta = next(o for o in objects(archive) if (o / "v2").is_dir())
    assert sorted(p.name for p in carta.glob("v*")) == ["v1", "v2"]
    assert _codes(archive) == set()
