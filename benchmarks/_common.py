"""Shared plumbing for the benchmarks: scratch folders, timed subprocesses, the hashing
reference, and the report (a table on stdout, JSON in ``benchmarks/out/``).

Machines are shared and noisy, so targets are ratios to a reference measured in the same run,
alternating reference and measurement, and figures are medians of several repetitions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
#: The venv's interpreter and the installed entry point (what a user runs).
PYTHON = Path(sys.executable)
CONSTANCIA = PYTHON.parent / "constancia"
OCFL_VALIDATE = PYTHON.parent / "ocfl-validate.py"
PASSPHRASE = "benchmark passphrase, not for real use"
MB = 1_000_000
GIB = 1 << 30


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary folder on the same file system as the archive code (not /tmp, which may be
    a RAM disk), removed afterwards unless ``keep``."""
    base = OUT / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def bench_env(home: Path) -> dict[str, str]:
    """Environment for every `constancia` call: a throwaway identity whose key unlocks fast."""
    env = dict(os.environ)
    env.update(
        CONSTANCIA_HOME=str(home),
        CONSTANCIA_PASSPHRASE=PASSPHRASE,
        CONSTANCIA_KDF_ROUNDS="1",
        LC_ALL="C.UTF-8",
    )
    env.pop("CONSTANCIA_ARCHIVE", None)
    env.pop("CONSTANCIA_DEBUG", None)
    return env


@dataclass
class Run:
    seconds: float
    #: Peak resident memory of the command, or None unless asked for.
    max_rss_bytes: int | None
    returncode: int
    stdout: str
    #: CPU seconds of the command (and its children) in user space and in the kernel.
    user: float = 0.0
    system: float = 0.0


#: GNU time reports a command's own peak memory. Our own wait4() cannot: a child inherits the
#: peak RSS of the process that forked it (Linux keeps the old hiwater mark across exec), and
#: this benchmark process is large.
GNU_TIME = Path("/usr/bin/time")


def run(
    cmd: Sequence[str | Path],
    env: dict[str, str] | None = None,
    *,
    check: bool = True,
    memory: bool = False,
) -> Run:
    """Run a command to its end; its wall time, and with ``memory`` its peak resident memory
    (through /usr/bin/time, whose own start-up adds about a millisecond)."""
    OUT.mkdir(parents=True, exist_ok=True)
    argv = [os.fspath(c) for c in cmd]
    # Files, not pipes: nothing is read while the command runs, so no pipe can fill up.
    with (
        tempfile.TemporaryFile(dir=OUT) as out,
        tempfile.TemporaryFile(dir=OUT) as errf,
        tempfile.NamedTemporaryFile(dir=OUT) as rss,
    ):
        if memory:
            if not GNU_TIME.exists():
                raise SystemExit("measuring memory needs GNU time: apt-get install time")
            argv = [os.fspath(GNU_TIME), "-f", "%M", "-o", rss.name, *argv]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=out, stderr=errf, check=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        errf.seek(0)
        err = errf.read().decode("utf-8", "replace")
        peak = int(Path(rss.name).read_text().split()[-1]) * 1024 if memory else None
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{err[-2000:]}")
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return Run(seconds, peak, proc.returncode, text, user, system)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def python_probe() -> float:
    """Seconds for a fixed pure-Python workload that uses memory as indexing and signing do
    (a dict of 400,000 short strings, a sort, JSON both ways). The small-file targets are
    absolute rates of CPU-bound runs, and this shared machine's speed moves by half within
    an hour: the probe, taken beside each round, says how fast the machine was then."""
    start = time.perf_counter()
    counts: dict[str, int] = {}
    for i in range(400_000):
        word = f"palabra{i % 50_000}-{i % 7}"
        counts[word] = counts.get(word, 0) + 1
    json.loads(json.dumps(sorted(counts.items())))
    return time.perf_counter() - start


def settle() -> None:
    """Write out dirty pages left by setup, so a measured `syncfs` pays only for its own."""
    os.sync()


#: Files created per probe of :func:`quiet_disk`, the pause between probes, what a create
#: costs on a quiet file system here (11-25 us measured), and the longest wait. The kernel
#: skips an inode deleted less than 30 s ago (180 s if its inode table block is dirty), but
#: after a cleanup of 100,000 files creates still cost 120-600 us for over 200 s here.
_PROBE_FILES = 200
_PROBE_PAUSE_S = 10.0
_QUIET_CREATE_US = 40.0
_QUIET_WAIT_S = 600.0


def _create_cost(folder: Path) -> float:
    """Microseconds to create one empty file in a new folder under ``folder``."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=folder))
    start = time.perf_counter()
    for i in range(_PROBE_FILES):
        os.close(os.open(probe / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - start) / _PROBE_FILES * 1e6


def quiet_disk(folder: Path) -> list[float]:
    """Wait until creating a file in ``folder`` costs what it normally does (at most 10
    minutes); the probes' costs in us per file.

    On this machine's ext4 (no journal), a file system that has just deleted many files
    makes every new inode skip the recently deleted ones (``recently_deleted()`` in the
    kernel's inode allocator; a fifth of an export's CPU in `perf`): right after a
    benchmark's cleanup a create cost 205 us, a minute later 21 us, and an export of
    5,000 files took 4.4 s instead of 2.1 s. The hashing reference creates no file, so
    measuring then would charge a writer for the previous run's deletions. The probes are
    left in ``folder`` (deleting them would start the effect again); the caller's scratch
    folder goes at the end anyway."""
    os.sync()
    costs = [_create_cost(folder)]
    deadline = time.monotonic() + _QUIET_WAIT_S
    while costs[-1] > _QUIET_CREATE_US and time.monotonic() < deadline:
        time.sleep(_PROBE_PAUSE_S)
        costs.append(_create_cost(folder))
    print(
        "file creation: " + " -> ".join(f"{c:.0f} us" for c in costs) + " per file",
        file=sys.stderr,
    )
    return costs


def warm(path: Path) -> None:
    """Read a file once so it is in the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def new_identity(env: dict[str, str]) -> None:
    run([CONSTANCIA, "identity", "create", "--name", "Banco de Pruebas"], env)


def new_archive(path: Path, env: dict[str, str]) -> Path:
    run([CONSTANCIA, "init", path, "--name", "Archivo de pruebas de velocidad"], env)
    return path


# -- the hashing reference -------------------------------------------------------------------

#: 1 MiB reads: large enough that hashlib releases the GIL and per-chunk overhead vanishes,
#: small enough to stay in cache. Each queue holds up to 8 chunks so the reader runs ahead.
REF_CHUNK = 1 << 20
REF_DEPTH = 8


def reference_hash(path: Path, copy_to: Path | None = None) -> tuple[str, str]:
    """The best straightforward way to get SHA-256 and SHA-512 of a file in one read: the
    main thread reads chunks; two worker threads each update one hash (hashlib releases the
    GIL on large updates). With ``copy_to`` the main thread also writes each chunk there and
    fsyncs it at the end: the same work as an ingest, done plainly. Returns the hex digests."""
    hashes = (hashlib.sha256(), hashlib.sha512())
    queues: tuple[queue.Queue[bytes | None], ...] = (
        queue.Queue(REF_DEPTH),
        queue.Queue(REF_DEPTH),
    )

    def work(q: queue.Queue[bytes | None], h: Any) -> None:
        while (chunk := q.get()) is not None:
            h.update(chunk)

    threads = [
        threading.Thread(target=work, args=(q, h)) for q, h in zip(queues, hashes, strict=True)
    ]
    for t in threads:
        t.start()
    out = -1 if copy_to is None else os.open(copy_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(REF_CHUNK):
                for q in queues:
                    q.put(chunk)
                if out >= 0:
                    _write_all(out, chunk)
        if out >= 0:
            os.fsync(out)
    finally:
        for q in queues:
            q.put(None)
        for t in threads:
            t.join()
        if out >= 0:
            os.close(out)
    return hashes[0].hexdigest(), hashes[1].hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def reference_copy(src: Path, dst: Path) -> None:
    """Read a file, write a copy and fsync it, without hashing: what the disk alone costs."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(src, "rb", buffering=0) as f:
            while chunk := f.read(REF_CHUNK):
                _write_all(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the report ------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure. ``target`` and ``higher_is_better`` make it a check; without, information."""

    bench: str
    metric: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        ok = self.value >= self.target if self.higher_is_better else self.value < self.target
        return "PASS" if ok else "FAIL"


@dataclass
class Report:
    script: str
    quick: bool
    rows: list[Row] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        source_dir()  # compiles the measured code's bytecode before anything is timed

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        mark = f"  {row.verdict}" if row.verdict else ""
        print(f"  {row.metric}: {_fmt(row.value)} {row.unit}{mark}", file=sys.stderr, flush=True)
        return row

    def sample(self, name: str, values: list[float]) -> float:
        """Keep the raw repetitions; return their median."""
        self.samples[name] = values
        return statistics.median(values)

    def table(self) -> str:
        head = ("benchmark", "metric", "value", "target", "verdict")
        body = [
            (
                r.bench,
                r.metric + (f" ({r.note})" if r.note else ""),
                f"{_fmt(r.value)} {r.unit}",
                ""
                if r.target is None
                else f"{'>=' if r.higher_is_better else '<'} {_fmt(r.target)} {r.unit}",
                r.verdict,
            )
            for r in self.rows
        ]
        widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body
        ]
        rule = "  ".join("-" * w for w in widths)
        return "\n".join(
            [
                "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
                rule,
                *lines,
            ]
        )

    def write(self) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        data = {
            "script": self.script,
            "date": now.isoformat(timespec="seconds"),
            "quick": self.quick,
            "machine": machine(),
            "results": [asdict(r) | {"verdict": r.verdict} for r in self.rows],
            "samples": self.samples,
        }
        path = OUT / f"{self.script}-{now:%Y%m%dT%H%M%SZ}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @property
    def failed(self) -> bool:
        return any(r.verdict == "FAIL" for r in self.rows)

    def finish(self, strict: bool) -> int:
        """Print the table, write the JSON; the exit status (1 only if ``strict`` and a
        target failed: a benchmark is a report, not a test)."""
        print(self.table())
        print(f"\nJSON: {self.write()}")
        return 1 if strict and self.failed else 0


def _fmt(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def source_dir() -> str:
    """Where the code being measured is imported from (the checkout, or a --head snapshot).

    Its bytecode is compiled first, as ``pip install`` does and as a first run leaves behind:
    where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it), every `constancia` would
    otherwise compile ~20,000 lines before doing anything (0.1 s), while the tools it is
    compared with (ocfl-py, bagit) come compiled from their wheels."""
    import compileall

    import archive

    root = Path(archive.__file__).resolve().parent.parent
    for package in ("archive", "artefacts", "constancia", "index", "ingest"):
        compileall.compile_dir(root / package, quiet=2)
    return os.fspath(root)


def reexec_on_head(argv: list[str]) -> None:
    """Run this script again on a snapshot of the last commit (``git archive HEAD``), so that
    uncommitted edits in the checkout do not change, or break, the figures. The snapshot comes
    first on PYTHONPATH, ahead of the editable install, for this process and every
    `constancia` it starts."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    snap = OUT / "tmp" / f"head-{commit[:12]}"
    if not (snap / "pyproject.toml").exists():
        snap.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
    env = dict(os.environ, PYTHONPATH=os.fspath(snap), CONSTANCIA_BENCH_HEAD=commit)
    os.execve(sys.executable, [sys.executable, *argv], env)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "measured_source": source_dir(),
        "measured_commit": os.environ.get("CONSTANCIA_BENCH_HEAD", "working tree"),
    }
