"""verify's worker processes end with their parent, even when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A child verifies with two workers whose object checks take a minute, and writes down the
# workers' process IDs; the test then kills the child (SIGKILL: no cleanup runs).
_CHILD = """
import os, sys, time
from pathlib import Path
import archive.verify as v
from archive.store import Archive

pids = Path(sys.argv[2])

def slow(*args):
    (pids / str(os.getpid())).touch()
    time.sleep(60)
    return {}

v._check_chunk = slow
v.verify_archive(Archive.open(Path(sys.argv[1])), workers=2)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone, only not yet reaped
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_verify_leaves_no_worker_behind(filled: tuple[Path, list[str]], tmp_path: Path):
    archive, _ids = filled
    pids = tmp_path / "pids"
    pids.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, archive, pids])
    deadline = time.monotonic() + 30
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))
