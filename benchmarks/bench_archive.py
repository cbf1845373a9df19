"""Speed of the archive core (issue 2): large-file ingest and verify, many small files,
verify against ocfl-py, and the start-up of `constancia --help`.

    .venv/bin/python benchmarks/bench_archive.py [--quick] [--only large|many|help ...]

Prints a table with PASS/FAIL per target and writes JSON to benchmarks/out/. A report, not a
test: it exits 0 whatever the figures unless --strict is given. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

from _common import (
    CONSTANCIA,
    GIB,
    MB,
    OCFL_VALIDATE,
    PASSPHRASE,
    PYTHON,
    Report,
    Row,
    Run,
    bench_env,
    new_archive,
    new_identity,
    python_probe,
    quiet_disk,
    reexec_on_head,
    reference_copy,
    reference_hash,
    run,
    scratch,
    settle,
    source_dir,
    timed,
    warm,
)
from _corpus import make_big_file, make_testimonies


def _statuses(json_lines: str) -> Counter[str]:
    return Counter(json.loads(line)["status"] for line in json_lines.splitlines() if line)


def _ingest_cli(archive: Path, inputs: list[Path], env: dict[str, str], expected: int) -> Run:
    """A whole `constancia ingest` (with its peak memory); fails loudly unless every file was
    ingested."""
    r = run([CONSTANCIA, "ingest", *inputs, "--archive", archive, "--json", "-q"], env, memory=True)
    got = Counter(json.loads(line)["status"] for line in r.stdout.splitlines() if line)
    if got != Counter(ingested=expected):
        raise SystemExit(f"ingest did not ingest {expected} files: {dict(got)}")
    return r


def _verify_cli(archive: Path, env: dict[str, str]) -> Run:
    r = run([CONSTANCIA, "verify", "--archive", archive, "--json"], env)
    if not json.loads(r.stdout)["ok"]:
        raise SystemExit(f"verify found problems: {r.stdout[:2000]}")
    return r


def _cpu(runs: list[Run]) -> str:
    """Median user and kernel CPU seconds, for the notes."""
    user = statistics.median(r.user for r in runs)
    system = statistics.median(r.system for r in runs)
    return f"CPU {user:.2f} s user + {system:.2f} s kernel"


# Nothing is deleted until the end: on ext4 without a journal, creating a file scans past
# every inode deleted in the last minute, so deleting between rounds slows the next round.


def bench_large(report: Report, quick: bool, keep: bool) -> None:
    """Target 1: one large file, ingest and verify, against the two-thread hashing reference."""
    from archive.identity import unlock
    from archive.store import Archive
    from archive.verify import verify_archive
    from ingest.pipeline import ingest_paths

    size = GIB // 4 if quick else GIB
    reps = 2 if quick else 3
    b = "1 file of 256 MiB" if quick else "1 file of 1 GiB"
    print(f"{b}: preparing", file=sys.stderr)
    with scratch("large-", keep) as tmp:
        env = bench_env(tmp / "home")
        new_identity(env)
        os.environ.update({k: env[k] for k in ("CONSTANCIA_HOME", "CONSTANCIA_KDF_ROUNDS")})
        signer = unlock(PASSPHRASE)
        big = tmp / "grabacion-1991.bin"
        make_big_file(big, size)
        warm(big)
        ref: list[float] = []
        lib: list[float] = []
        copy: list[float] = []
        same: list[float] = []
        cli: list[Run] = []
        for i in range(reps):
            print(f"{b}: ingest round {i + 1}/{reps}", file=sys.stderr)
            ref.append(timed(functools.partial(reference_hash, big)))
            archive = new_archive(tmp / f"cli-{i}", env)
            settle()
            cli.append(_ingest_cli(archive, [big], env, 1))
            ref.append(timed(functools.partial(reference_hash, big)))
            opened = Archive.open(new_archive(tmp / f"lib-{i}", env))
            settle()
            lib.append(timed(functools.partial(ingest_paths, opened, signer, [big])))
            settle()
            copy.append(timed(functools.partial(reference_copy, big, tmp / f"copy-{i}.bin")))
            settle()
            same.append(timed(functools.partial(reference_hash, big, tmp / f"same-{i}.bin")))
        t_ref = report.sample("large.reference_hash_s", ref)
        t_cli = report.sample("large.ingest_cli_s", [r.seconds for r in cli])
        t_lib = report.sample("large.ingest_library_s", lib)
        t_copy = report.sample("large.copy_fsync_s", copy)
        t_same = report.sample("large.hash_copy_fsync_s", same)
        rss = [(r.max_rss_bytes or 0) / MB for r in cli]
        report.sample("large.ingest_peak_rss_mb", rss)
        report.add(
            Row(b, "reference: read + sha256 + sha512 (2 threads)", size / t_ref / MB, "MB/s")
        )
        report.add(
            Row(b, "reference: read + write + fsync, no hashing", size / t_copy / MB, "MB/s")
        )
        report.add(Row(b, "ingest CLI throughput", size / t_cli / MB, "MB/s", note=_cpu(cli)))
        report.add(Row(b, "ingest CLI / hashing reference", 100 * t_ref / t_cli, "%", 70))
        report.add(Row(b, "ingest_paths() / hashing reference", 100 * t_ref / t_lib, "%", 70))
        report.add(Row(b, "ingest CLI peak memory (max RSS)", max(rss), "MB", 150, False))
        # Not a target: how ingest compares with a plain program doing the same work.
        report.add(Row(b, "reference: read + 2 hashes + write + fsync", size / t_same / MB, "MB/s"))
        report.add(Row(b, "ingest CLI / same-work reference", 100 * t_same / t_cli, "%"))

        # The archive of the last round: its original was just written, so it is in cache.
        original = next((archive / "objects").rglob("original/" + big.name))
        warm(original)
        opened = Archive.open(archive)
        vref: list[float] = []
        vlib: list[float] = []
        vcli: list[Run] = []
        for i in range(reps):
            print(f"{b}: verify round {i + 1}/{reps}", file=sys.stderr)
            vref.append(timed(functools.partial(reference_hash, original)))
            vcli.append(_verify_cli(archive, env))
            vref.append(timed(functools.partial(reference_hash, original)))
            vlib.append(timed(functools.partial(verify_archive, opened)))
        t_vref = report.sample("large.verify_reference_hash_s", vref)
        t_vcli = report.sample("large.verify_cli_s", [r.seconds for r in vcli])
        t_vlib = report.sample("large.verify_library_s", vlib)
        report.add(Row(b, "verify CLI throughput", size / t_vcli / MB, "MB/s", note=_cpu(vcli)))
        report.add(Row(b, "verify CLI / hashing reference", 100 * t_vref / t_vcli, "%", 70))
        report.add(Row(b, "verify_archive() / hashing reference", 100 * t_vref / t_vlib, "%"))


def _copy_tree(src: Path, dest: Path) -> float:
    """Seconds for `cp -r` and a sync: a machine reference for many small durable files."""
    return run(["cp", "-r", src, dest]).seconds + timed(os.sync)


def bench_many(report: Report, quick: bool, keep: bool) -> None:
    """Targets 2 and 3: many small files with sidecars; ingest rate; verify against ocfl-py."""
    from archive.store import Archive
    from archive.verify import verify_archive

    count = 2_000 if quick else 10_000
    reps = 3
    vreps = 3 if quick else 2
    b = f"{count:,} small files"
    print(f"{b}: preparing", file=sys.stderr)
    with scratch("many-", keep) as tmp:
        env = bench_env(tmp / "home")
        new_identity(env)
        corpus = tmp / "campo"
        make_testimonies(corpus, count)
        report.sample("many.create_file_us", quiet_disk(tmp))
        cli: list[Run] = []
        cp: list[float] = []
        probes: list[float] = []
        archive = tmp / "none"
        for i in range(reps):
            print(f"{b}: ingest round {i + 1}/{reps}", file=sys.stderr)
            cp.append(_copy_tree(corpus, tmp / f"cp-{i}"))
            archive = new_archive(tmp / f"archive-{i}", env)
            settle()
            probes.append(python_probe())
            cli.append(_ingest_cli(archive, [corpus], env, count))
            probes.append(python_probe())
        t_cli = report.sample("many.ingest_cli_s", [r.seconds for r in cli])
        t_cp = report.sample("many.cp_r_sync_s", cp)
        rss = max((r.max_rss_bytes or 0) / MB for r in cli)
        report.add(Row(b, "reference: cp -r + sync (files with sidecars)", count / t_cp, "files/s"))
        report.add(Row(b, "ingest CLI rate", count / t_cli, "files/s", 300, note=_cpu(cli)))
        report.add(Row(b, "ingest CLI peak memory (max RSS)", rss, "MB"))
        probe = report.sample("many.python_probe_s", probes)
        spread = f"{min(probes):.2f}-{max(probes):.2f} s"
        report.add(Row(b, "machine speed: python_probe()", probe, "s", note=spread))

        objects = archive / "objects"
        opened = Archive.open(archive)
        ocfl: list[Run] = []
        ours: list[Run] = []
        lib: list[float] = []
        for i in range(vreps):
            print(f"{b}: verify round {i + 1}/{vreps} (ocfl-py is slow)", file=sys.stderr)
            ocfl.append(run([PYTHON, OCFL_VALIDATE, "-q", objects], env))
            ours.append(_verify_cli(archive, env))
            lib.append(timed(functools.partial(verify_archive, opened)))
        t_ocfl = report.sample("many.ocfl_validate_s", [r.seconds for r in ocfl])
        t_ours = report.sample("many.verify_cli_s", [r.seconds for r in ours])
        t_lib = report.sample("many.verify_library_s", lib)
        report.add(
            Row(
                b,
                "ocfl-validate.py objects/ (reference)",
                count / t_ocfl,
                "objects/s",
                note=_cpu(ocfl),
            )
        )
        report.add(Row(b, "verify CLI rate", count / t_ours, "objects/s", note=_cpu(ours)))
        report.add(Row(b, "verify CLI speed-up over ocfl-py", t_ocfl / t_ours, "x", 5))
        report.add(Row(b, "verify_archive() speed-up over ocfl-py", t_ocfl / t_lib, "x"))


def bench_help(report: Report, quick: bool, keep: bool) -> None:
    """Target 4: `constancia --help` through the installed entry point."""
    b = "start-up"
    n = 10
    env = dict(os.environ)
    run([CONSTANCIA, "--help"], env)  # once to warm caches (.pyc, page cache)
    run([PYTHON, "-c", "pass"], env)
    helps, bare = [], []
    for _ in range(n):
        helps.append(run([CONSTANCIA, "--help"], env).seconds)
        bare.append(run([PYTHON, "-c", "pass"], env).seconds)
    t_help = report.sample("help.constancia_help_s", helps)
    t_bare = report.sample("help.python_pass_s", bare)
    report.add(Row(b, "python -c pass (reference)", t_bare, "s"))
    report.add(Row(b, "constancia --help", t_help, "s", 0.3, False, f"median of {n}"))


BENCHES = {"large": bench_large, "many": bench_many, "help": bench_help}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a minute or two)")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHES), help="run only these (repeatable)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    parser.add_argument(
        "--head",
        action="store_true",
        help="measure the last commit (a git archive snapshot), not the edited checkout",
    )
    args = parser.parse_args()
    if args.head and "CONSTANCIA_BENCH_HEAD" not in os.environ:
        reexec_on_head([__file__, *(a for a in sys.argv[1:] if a != "--head")])
    print(f"measuring the code in {source_dir()}", file=sys.stderr)
    report = Report("bench_archive", args.quick)
    for name in args.only or list(BENCHES):
        BENCHES[name](report, args.quick, args.keep)
    sys.exit(report.finish(args.strict))


if __name__ == "__main__":
    main()
