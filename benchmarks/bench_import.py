"""Speed of `constancia import`: a field archive of 10,000 artefacts (small testimonies with
sidecars) brought into an empty archive. Target: >= 300 artefacts/s for the whole command.

    .venv/bin/python benchmarks/bench_import.py [--count N] [--reps N] [--rebuild] [--keep]

The field archive takes a few minutes to build (it is ingested like a real one), so it is
kept in ``benchmarks/out/import-field-<N>/`` and reused; ``--rebuild`` makes it again. Each
repetition imports it into a new archive of another custodian, with `--json -q`, and checks
that every artefact came in. Also reported: `constancia verify` of the field archive alone,
the share of the import spent proving the source before anything is written. A report, not
a test: exit status 0 whatever the figures unless --strict. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from _common import (
    CONSTANCIA,
    OUT,
    PASSPHRASE,
    Report,
    Row,
    Run,
    bench_env,
    new_archive,
    new_identity,
    python_probe,
    quiet_disk,
    run,
    scratch,
    settle,
)
from _corpus import make_testimonies


def field_archive(count: int, rebuild: bool) -> tuple[Path, dict[str, str]]:
    """The cached field archive of ``count`` artefacts and its keeper's environment."""
    base = OUT / f"import-field-{count}"
    archive, home = base / "campo", base / "home"
    env = bench_env(home)
    if rebuild:
        shutil.rmtree(base, ignore_errors=True)
    if (archive / "constancia.yaml").exists():
        return archive, env
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    print(f"building a field archive of {count:,} artefacts (kept in {base})", file=sys.stderr)
    run([CONSTANCIA, "identity", "create", "--name", "Documentadora de Campo"], env)
    run([CONSTANCIA, "init", archive, "--name", "Campo Norte"], env)
    corpus = base / "corpus"
    make_testimonies(corpus, count)
    run([CONSTANCIA, "ingest", corpus, "--archive", archive, "--json", "-q"], env)
    shutil.rmtree(corpus)
    return archive, env


def _import(field: Path, archive: Path, env: dict[str, str], count: int) -> Run:
    r = run([CONSTANCIA, "import", field, "--archive", archive, "--json", "-q"], env, memory=True)
    counts = json.loads(r.stdout)["counts"]
    if counts.get("new") != count:
        raise SystemExit(f"import did not bring in {count} artefacts: {counts}")
    return r


def phases(field: Path, tmp: Path, count: int) -> tuple[float, float, float]:
    """The same import in-process, timed by phase: plan (read and check the source),
    write (copy, stage, log, install), index (the search index catches up)."""
    import os
    import time

    from archive.identity import create_identity, unlock
    from archive.import_source import plan_source
    from archive.importing import write_import
    from archive.store import Archive
    from ingest.indexing import add_records

    os.environ["CONSTANCIA_KDF_ROUNDS"] = "1"
    create_identity("Custodia", PASSPHRASE, tmp / "phase-home")
    signer = unlock(PASSPHRASE, tmp / "phase-home")
    archive = Archive.create(tmp / "phase-archive", "Fases", signer)
    settle()
    t0 = time.perf_counter()
    plan = plan_source(field)
    t1 = time.perf_counter()
    with archive.lock():
        report = write_import(archive, signer, plan)
        t2 = time.perf_counter()
        add_records(archive, [o.id for o in report.outcomes if o.id])
    t3 = time.perf_counter()
    if report.count("new") != count:
        raise SystemExit(f"the in-process import brought {report.counts()}")
    return t1 - t0, t2 - t1, t3 - t2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="build the field archive again")
    ap.add_argument("--keep", action="store_true", help="keep the receiving archives")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    args = ap.parse_args()
    report = Report("bench_import", quick=args.count < 10_000)
    field, field_env = field_archive(args.count, args.rebuild)
    b = f"import of {args.count:,} artefacts"
    with scratch("import-", args.keep) as tmp:
        env = bench_env(tmp / "home")
        new_identity(env)
        runs: list[Run] = []
        verifies: list[Run] = []
        probes: list[float] = []
        report.sample("import.create_file_us", quiet_disk(tmp))
        for i in range(args.reps):
            print(f"{b}: round {i + 1}/{args.reps}", file=sys.stderr)
            settle()
            verifies.append(run([CONSTANCIA, "verify", "--archive", field, "--json"], field_env))
            archive = new_archive(tmp / f"archive-{i}", env)
            settle()
            probes.append(python_probe())
            runs.append(_import(field, archive, env, args.count))
            probes.append(python_probe())
        t = report.sample("import.cli_s", [r.seconds for r in runs])
        tv = report.sample("import.source_verify_s", [r.seconds for r in verifies])
        user, system = min(r.user for r in runs), min(r.system for r in runs)
        cpu = f"CPU {user:.1f} s user + {system:.1f} s kernel"
        report.add(Row(b, "import CLI rate", args.count / t, "artefacts/s", 300, note=cpu))
        report.add(Row(b, "import CLI wall time", t, "s"))
        probe = report.sample("import.python_probe_s", probes)
        spread = f"{min(probes):.2f}-{max(probes):.2f} s"
        report.add(Row(b, "machine speed: python_probe()", probe, "s", note=spread))
        report.add(Row(b, "verify of the source alone (part of the import)", tv, "s"))
        rss = max((r.max_rss_bytes or 0) / 1e6 for r in runs)
        report.add(Row(b, "import CLI peak memory (max RSS)", rss, "MB"))
        print(f"{b}: in-process, by phase", file=sys.stderr)
        plan, write, index = phases(field, tmp, args.count)
        report.samples["import.phases_s"] = [plan, write, index]
        report.add(Row(b, "phase: plan (read and verify the source)", plan, "s"))
        report.add(Row(b, "phase: write (copy, stage, log, install)", write, "s"))
        report.add(Row(b, "phase: search index (add_records)", index, "s"))
        n = args.count
        report.add(
            Row(b, "import rate without the search index", n / (plan + write), "artefacts/s")
        )
    return report.finish(args.strict)


if __name__ == "__main__":
    sys.exit(main())
