"""SIGKILL `constancia ingest` at the worst moments: the archive stays valid, the next run
finishes the work, nothing is doubled or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import json_lines

POINTS = [
    "mid-copy",
    "before-log-append",
    "after-log-append",
    "after-install",
    "before-checkpoint",
    "between-checkpoint-files",
]


def _cli(*args: str | Path, env_extra: dict[str, str] | None = None, **kw):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "constancia", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        **kw,
    )


def _inputs(make_files) -> Path:
    files: dict[str, str | bytes] = {f"t{i:02}.txt": f"testimonio {i}" for i in range(6)}
    files["grande.bin"] = os.urandom(3 << 20)  # big enough for the threaded copy path
    return make_files(files)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_kill_at_point_then_rerun(home, archive, make_files, point):
    src = _inputs(make_files)
    killed = _cli("ingest", src, "--archive", archive, env_extra={"CONSTANCIA_FAULT": point})
    assert killed.returncode == -signal.SIGKILL
    report = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    recoverable = {"INCOMPLETE_INGEST", "INTERRUPTED_WRITE", "LOG_UNCHECKPOINTED", "LOG_TORN_WRITE"}
    assert {p["code"] for p in report["problems"]} <= recoverable, report
    again = _cli("ingest", src, "--archive", archive, "--json")
    assert again.returncode == 0, again.stderr
    statuses = [x["status"] for x in json_lines(again.stdout)]
    assert len(statuses) == 7 and set(statuses) <= {"ingested", "duplicate"}
    final = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    assert final["ok"] and final["artefacts"] == 7, final
    ingests = [
        e
        for e in json_lines(_cli("log", "--archive", archive, "--json").stdout)
        if e["action"] == "ingest"
    ]
    assert len(ingests) == 7  # nothing doubled, nothing lost


@pytest.mark.slow
def test_kill_at_random_moments(home, archive, make_files):
    src = make_files({f"t{i:03}.txt": f"testimonio número {i}" * 50 for i in range(300)})
    for delay in (0.3, 0.6, 0.9):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "constancia",
                "ingest",
                str(src),
                "--archive",
                str(archive),
                "-q",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
        assert {p["code"] for p in report["problems"]} <= {
            "INCOMPLETE_INGEST",
            "INTERRUPTED_WRITE",
            "LOG_UNCHECKPOINTED",
            "LOG_TORN_WRITE",
        }, report
    assert _cli("ingest", src, "--archive", archive, "-q").returncode == 0
    final = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    assert final["ok"] and final["artefacts"] == 300


def test_torn_last_log_line_is_repaired(run, archive, make_files):
    log = archive / "custody" / "log.jsonl"
    with open(log, "ab") as f:
        f.write(b'{"action":"ingest","actor":')  # what a kill during append leaves
    codes = {
        p["code"]
        for p in json.loads(run("verify", "--archive", archive, "--json").stdout)["problems"]
    }
    assert codes == {"LOG_TORN_WRITE"}
    result = run("ingest", make_files({"a.txt": "uno"}), "--archive", archive)
    assert result.exit_code == 0 and "interrupted write" in result.stderr
    assert run("verify", "--archive", archive).exit_code == 0


def test_second_writer_waits_or_fails_clearly(home, archive, make_files):
    from archive.store import Archive

    src = make_files({"a.txt": "uno"})
    arch = Archive.open(archive)
    with arch.lock(wait=0):
        busy = _cli("ingest", src, "--archive", archive, "--wait", "0")
        assert busy.returncode == 2
        assert "another constancia command" in busy.stderr and "Traceback" not in busy.stderr
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "constancia",
                "ingest",
                str(src),
                "--archive",
                str(archive),
                "--wait",
                "30",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "waiting" in err
    assert _cli("verify", "--archive", archive).returncode == 0


def test_two_ingests_at_once_never_corrupt_the_log(home, archive, make_files):
    a = make_files({f"a{i}.txt": f"a {i}" for i in range(40)})
    b = make_files({f"b{i}.txt": f"b {i}" for i in range(40)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "constancia", "ingest", str(p), "--archive", str(archive), "-q"]
        )
        for p in (a, b)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    final = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    assert final["ok"] and final["artefacts"] == 80


def test_a_temporary_file_left_by_a_kill_is_recoverable(run, archive, make_files):
    """A kill between writing a checkpoint's temporary file and removing it leaves that file
    in custody/checkpoints/: verify calls it recoverable, the next writer removes it."""
    leftover = archive / "custody" / "checkpoints" / ".tmp-0123456789ab-7"
    leftover.write_bytes((archive / "custody" / "checkpoint").read_bytes())
    report = json.loads(_cli("verify", "--archive", archive, "--json").stdout)
    assert {p["code"] for p in report["problems"]} == {"INTERRUPTED_WRITE"}
    assert run("ingest", make_files({"a.txt": "uno"}), "--archive", archive).exit_code == 0
    assert not leftover.exists()
    assert json.loads(_cli("verify", "--archive", archive, "--json").stdout)["ok"]


def _index_workers(home: Path) -> list[int]:
    """Index worker processes started by a `constancia` run with CONSTANCIA_HOME=home."""
    marker = b"CONSTANCIA_HOME=" + os.fsencode(home) + b"\0"
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and marker in environ:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_killed_ingest_leaves_no_index_worker_behind(home, archive, make_files):
    """A run of 1,000+ files indexes in worker processes; killed, they end on their own."""
    src = make_files({f"t{i:04}.txt": f"testimonio número {i}" for i in range(1000)})
    env = {**os.environ, "CONSTANCIA_FAULT": "after-log-append"}
    # Output to /dev/null: with pipes, waiting for the command would also wait for every
    # process holding them, the workers included.
    killed = subprocess.run(
        [sys.executable, "-m", "constancia", "ingest", str(src), "--archive", str(archive)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert killed.returncode == -signal.SIGKILL
    seen = set(_index_workers(home))
    deadline = time.monotonic() + 15
    while _index_workers(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert seen and not _index_workers(home)
    again = _cli("ingest", src, "--archive", archive, "--json")
    assert again.returncode == 0, again.stderr
    assert _cli("index", "check", "--archive", archive).returncode == 0
    assert not _index_workers(home)
