"""Speed of evidence packages (issue 4): export and verify-package of a package holding a
1 GiB original and 1,000 small ones, against the two-thread hashing reference over the same
bytes and against `bagit.py --validate` on the same bag, all measured in the same run.

    .venv/bin/python benchmarks/bench_package.py [--quick] [--keep]

--quick uses 256 MiB and 200 small files. Prints a table and writes JSON to benchmarks/out/.
A report, not a test. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from _common import (
    CONSTANCIA,
    GIB,
    MB,
    PYTHON,
    Report,
    Row,
    Run,
    bench_env,
    new_archive,
    new_identity,
    quiet_disk,
    reference_hash,
    run,
    scratch,
    settle,
    source_dir,
    timed,
    warm,
)
from _corpus import make_big_file, make_testimonies


def _reference(files: list[Path]) -> None:
    for f in files:
        reference_hash(f)


def _plain_copy(files: list[Path], dest: Path) -> None:
    """Read and write the same bytes without hashing and without fsync: what writing the
    package's payload alone costs on this disk."""
    dest.mkdir()
    for n, f in enumerate(files):
        with open(f, "rb", buffering=0) as src, open(dest / str(n), "xb", buffering=0) as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)


def _payload_files(package: Path) -> list[Path]:
    return sorted(p for p in (package / "data").rglob("*") if p.is_file())


def bench(report: Report, quick: bool, keep: bool) -> None:
    size = GIB // 4 if quick else GIB
    small = 200 if quick else 1000
    reps = 2 if quick else 3
    b = f"1 file of {size >> 20} MiB + {small} small"
    with scratch("package-", keep) as tmp:
        env = bench_env(tmp / "home")
        new_identity(env)
        print(f"{b}: preparing the archive", file=sys.stderr)
        inputs = tmp / "inputs"
        make_testimonies(inputs, small)
        make_big_file(inputs / "grabacion-1991.bin", size)
        archive = new_archive(tmp / "archive", env)
        done = run([CONSTANCIA, "ingest", inputs, "--archive", archive, "--json", "-q"], env)
        ids = [json.loads(line)["id"] for line in done.stdout.splitlines() if line]
        originals = sorted((archive / "objects").rglob("original/*"))
        for f in originals:
            warm(f)
        probes = quiet_disk(tmp)
        report.sample("package.create_file_us", probes)
        ref: list[float] = []
        exp: list[Run] = []
        copies: list[float] = []
        packages: list[Path] = []
        for i in range(reps):
            print(f"{b}: export round {i + 1}/{reps}", file=sys.stderr)
            ref.append(timed(functools.partial(_reference, originals)))
            to = tmp / f"package-{i}"
            settle()  # the previous round's writes must not be flushed during this one
            exp.append(
                run(
                    [CONSTANCIA, "export", *ids, "--to", to, "--archive", archive, "-q"],
                    env,
                    memory=True,
                )
            )
            packages.append(to)
            settle()
            ref.append(timed(functools.partial(_reference, originals)))
            copies.append(timed(functools.partial(_plain_copy, originals, tmp / f"copy-{i}")))
            settle()
        t_ref = report.sample("package.reference_hash_s", ref)
        t_exp = report.sample("package.export_cli_s", [r.seconds for r in exp])
        t_copy = report.sample("package.plain_copy_s", copies)
        payload = sum(f.stat().st_size for f in originals)
        report.add(
            Row(b, "reference: read + sha256 + sha512 (2 threads)", payload / t_ref / MB, "MB/s")
        )
        report.add(
            Row(b, "reference: read + write, no hashing, no fsync", payload / t_copy / MB, "MB/s")
        )
        report.add(Row(b, "export CLI throughput", payload / t_exp / MB, "MB/s"))
        report.add(Row(b, "export CLI / hashing reference", 100 * t_ref / t_exp, "%", 70))
        # Not a target: writing the payload alone, against the hashing reference.
        report.add(Row(b, "plain copy / hashing reference", 100 * t_ref / t_copy, "%"))
        rss = max((r.max_rss_bytes or 0) / MB for r in exp)
        report.add(Row(b, "export CLI peak memory (max RSS)", rss, "MB", 150, False))

        package = packages[-1]
        files = _payload_files(package)
        for f in files:
            warm(f)
        vref: list[float] = []
        vcli: list[Run] = []
        vpy: list[Run] = []
        bagit: list[Run] = []
        for i in range(reps):
            print(f"{b}: verify round {i + 1}/{reps}", file=sys.stderr)
            vref.append(timed(functools.partial(_reference, files)))
            vcli.append(run([CONSTANCIA, "verify-package", package, "--json"], env))
            bagit.append(run([PYTHON.parent / "bagit.py", "--validate", "--quiet", package], env))
            vref.append(timed(functools.partial(_reference, files)))
            if i == 0:  # the stdlib checker's pure-Python Ed25519 is slow; once is enough
                vpy.append(run(["python3", "-I", package / "verify.py", "--json"], env))
        for r in vcli:
            if not json.loads(r.stdout)["ok"]:
                raise SystemExit(f"verify-package found problems: {r.stdout[:2000]}")
        t_vref = report.sample("package.verify_reference_hash_s", vref)
        t_vcli = report.sample("package.verify_package_cli_s", [r.seconds for r in vcli])
        t_bagit = report.sample("package.bagit_validate_s", [r.seconds for r in bagit])
        t_vpy = report.sample("package.verify_py_s", [r.seconds for r in vpy])
        octets = sum(f.stat().st_size for f in files)
        report.add(Row(b, "verify-package CLI throughput", octets / t_vcli / MB, "MB/s"))
        report.add(Row(b, "verify-package CLI / hashing reference", 100 * t_vref / t_vcli, "%", 70))
        report.add(Row(b, "bagit.py --validate / verify-package (time)", t_bagit / t_vcli, "x", 1))
        report.add(Row(b, "export CLI time / bagit.py --validate", t_exp / t_bagit, "x"))
        report.add(Row(b, "python3 -I verify.py (stdlib only)", t_vpy, "s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    args = parser.parse_args()
    print(f"measuring the code in {source_dir()}", file=sys.stderr)
    os.environ.pop("CONSTANCIA_ARCHIVE", None)
    report = Report("bench_package", args.quick)
    bench(report, args.quick, args.keep)
    sys.exit(report.finish(args.strict))


if __name__ == "__main__":
    main()
