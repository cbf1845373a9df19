"""`constancia import`: bring a field archive, an evidence package or a BagIt bag home."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from constancia.cli import (
    ARCHIVE_OPT,
    JSON_OPT,
    QUIET_OPT,
    WAIT_OPT,
    _custodian_signer,
    _emit,
    _n,
    _open,
    _say,
    cli,
)
from constancia.errors import ExitCode


@cli.command("import")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--accept-unverified",
    "reason",
    metavar="REASON",
    help="Import even though signatures or the custody history do not prove out; REASON is "
    "kept in the custody log. Structural problems are never accepted.",
)
@ARCHIVE_OPT
@JSON_OPT
@WAIT_OPT
@QUIET_OPT
@click.pass_context
def import_cmd(
    ctx: click.Context,
    path: Path,
    reason: str | None,
    archive_path: Path | None,
    as_json: bool,
    wait: float,
    quiet: bool,
) -> None:
    """Take in another archive (a field laptop's), an evidence package, or a BagIt bag.

    Everything is checked before anything is written: originals are re-hashed, records and
    signatures kept as they were, the source's custody history kept and linked. Importing
    the same source again changes nothing."""
    from archive.import_source import SourceRefused, SourceUnverified
    from constancia.progress import Bar
    from ingest.import_run import import_path

    archive = _open(archive_path)
    signer = _custodian_signer(archive)
    quiet = quiet or ctx.obj["quiet"]
    bar = Bar.for_stderr("import", quiet)
    index_bar = Bar.for_stderr("index ", quiet, after=bar)
    if not quiet:
        _say(f"checking {path} before anything is written…")
    try:
        report = import_path(
            archive,
            signer,
            path,
            accept_unverified=reason,
            wait=wait,
            on_wait=None if quiet else _say,
            progress=bar,
            index_progress=index_bar,
        )
    except (SourceRefused, SourceUnverified) as e:
        if as_json:
            _emit(
                {
                    "ok": False,
                    "refused": str(e),
                    "source": str(path),
                    "problems": [p.to_json() for p in e.problems],
                }
            )
        elif not quiet:
            for p in e.problems[:50]:
                _say(f"{p.code} {p.path or ''}: {p.message}")
            if len(e.problems) > 50:
                _say(f"… and {len(e.problems) - 50} more")
        raise
    finally:
        bar.close()
        index_bar.close()
    for note in report.notes:
        _say(f"note: {note}")
    if as_json:
        _emit(report.to_json())
    else:
        for o in report.outcomes:
            if o.status != "unchanged":
                click.echo(f"{o.status:<9} {o.id or '-'}  {o.source or o.name or ''}".rstrip())
            if o.error:
                _say(f"{o.status}: {o.error}")
        if not quiet:
            _say(_summary(report))
    if not report.ok:
        sys.exit(ExitCode.PROBLEMS)


def _summary(report: object) -> str:
    from archive.import_report import ImportReport

    assert isinstance(report, ImportReport)
    plan = report.plan
    counts = report.counts()
    what = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    src = f"{plan.kind} {plan.origin or plan.package or plan.path}"
    if not report.changed:
        return f"nothing new from {src} ({what or 'empty'})"
    parts = [f"imported from {src}: {what}"]
    if report.keys:
        parts.append(f"registered {_n(len(report.keys), 'key')}")
    if report.history:
        parts.append(f"its history kept in {report.history}")
    if report.accepted:
        parts.append(f"accepted unverified: {report.accepted}")
    if report.checkpoint_size:
        parts.append(f"custody log at {report.checkpoint_size} events")
    return "; ".join(parts)
