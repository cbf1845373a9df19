"""`constancia export`, `verify-package`, `checkpoint` and `audit`: proof that needs no trust."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
    _print_problems,
    _say,
    cli,
)
from constancia.errors import ExitCode, UsageError
from constancia.progress import Bar


@cli.command()
@click.argument("artefacts", nargs=-1)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(path_type=Path),
    help="The new folder to write the package to (must not exist).",
)
@click.option("--query", help="Also export every artefact this search finds.")
@click.option("--recipient", help="Who the package is for (recorded in the custody log).")
@ARCHIVE_OPT
@JSON_OPT
@QUIET_OPT
@WAIT_OPT
def export(
    artefacts: tuple[str, ...],
    to: Path,
    query: str | None,
    recipient: str | None,
    archive_path: Path | None,
    as_json: bool,
    quiet: bool,
    wait: float,
) -> None:
    """Write an evidence package (a BagIt bag) of the artefacts, for a recipient to check."""
    from archive.export import export_package

    archive = _open(archive_path)
    ids = [archive.resolve_id(a) for a in artefacts]
    if query:
        from ingest.indexing import matching_ids

        found = [a for a in matching_ids(archive, query) if archive.has_artefact(a)]
        if not found and not ids:
            raise UsageError(f"the search {query!r} finds nothing to export")
        ids += found
    if not ids:
        raise UsageError(
            "nothing to export",
            hint="name artefact IDs (8+ characters each) or give --query",
        )
    signer = _custodian_signer(archive)
    bar = Bar.for_stderr("exporting", quiet or as_json)
    # Sizing reads every inventory: only worth it when a bar shows the total.
    total = sum(_original_size(archive, a) for a in set(ids)) if bar.enabled else 0
    bar.start(len(set(ids)), total)
    report = export_package(
        archive,
        signer,
        ids,
        to,
        recipient=recipient,
        query=query,
        progress=bar.advance,
        artefact_done=bar.done,
        wait=wait,
        on_wait=None if quiet else _say,
    )
    bar.close()
    if as_json:
        _emit(report.to_json())
        return
    click.echo(str(report.path))
    if not quiet:
        _say(
            f"Exported {_n(len(report.artefacts), 'artefact')} ({report.files} files, "
            f"{_n(report.events, 'custody event')}) as {report.identifier}; recorded in the "
            f"custody log (checkpoint {report.checkpoint_size})."
        )
        _say(f"The recipient checks it with: python3 -I {report.path / 'verify.py'}")


def _original_size(archive: Any, art: str) -> int:
    from archive import ocfl

    try:
        inv = ocfl.read_inventory(archive.object_dir(art))
        state = ocfl.head_state(inv)
        folder = archive.object_dir(art)
        return sum((folder / p).stat().st_size for p in state.values())
    except Exception:  # the export itself reports a damaged object plainly
        return 0


@cli.command("verify-package")
@click.argument("package", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option(
    "--custodian",
    metavar="FINGERPRINT",
    help="Require the checkpoint to be signed by this key (SHA256:…), known from elsewhere.",
)
@JSON_OPT
def verify_package(package: Path, custodian: str | None, as_json: bool) -> None:
    """Check an evidence package without any archive (as its verify.py does)."""
    from archive import bagcheck
    from archive.sshsig import ed25519_verify

    if not package.is_dir():
        raise UsageError("no such folder", path=package)
    if not (package / "bagit.txt").is_file():
        raise UsageError(
            "is not a BagIt bag (it has no bagit.txt)",
            path=package,
            hint="give the folder that `constancia export` wrote",
        )
    argv = [str(package), *(["--json"] if as_json else [])]
    argv += ["--custodian", custodian] if custodian else []
    status = bagcheck.main(argv, ed25519_verify=ed25519_verify)
    if status == ExitCode.PROBLEMS and not as_json and not _is_constancia_package(package):
        _say(
            "This is a BagIt bag but not a Constancia evidence package (its bag-info.txt "
            "has no Constancia-Package line): `bagit.py --validate` checks plain bags, and "
            "`constancia import` takes them into an archive."
        )
    if status != 0:
        sys.exit(status)


def _is_constancia_package(package: Path) -> bool:
    try:
        with open(package / "bag-info.txt", "rb") as f:
            return b"Constancia-Package:" in f.read(1 << 20)
    except OSError:
        return False


@cli.command()
@ARCHIVE_OPT
@JSON_OPT
def checkpoint(archive_path: Path | None, as_json: bool) -> None:
    """Print the archive's latest signed checkpoint, for an auditor to keep."""
    import base64

    from archive.audit import current_checkpoint

    archive = _open(archive_path)
    note, cp = current_checkpoint(archive)
    if as_json:
        _emit(
            {
                "origin": cp.origin,
                "size": cp.size,
                "root": base64.b64encode(cp.root).decode("ascii"),
                "custodian": archive.settings.custodian_fingerprint,
                "note": note.decode("utf-8"),
            }
        )
    else:
        click.echo(note.decode("utf-8"), nl=False)


@cli.command()
@click.option(
    "--since",
    "since",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A checkpoint kept earlier (the output of `constancia checkpoint`).",
)
@ARCHIVE_OPT
@JSON_OPT
def audit(since: Path, archive_path: Path | None, as_json: bool) -> None:
    """Prove the custody log extends a kept checkpoint; list what was appended since."""
    import json

    from archive.audit import audit_since

    archive = _open(archive_path)
    try:
        kept = since.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot be read ({err.strerror})", path=since) from None
    if kept.lstrip().startswith(b"{"):  # the --json form of `constancia checkpoint`
        try:
            kept = str(json.loads(kept)["note"]).encode("utf-8")
        except (ValueError, KeyError, TypeError):
            raise UsageError("is not a checkpoint", path=since) from None
    with archive.lock(shared=True):
        report = audit_since(archive, kept)
    if as_json:
        _emit(report.to_json())
    else:
        _print_problems([p.to_json() for p in report.problems])
        if report.ok and report.since and report.current:
            click.echo(
                f"OK: the log of {report.current.size} events extends the kept checkpoint of "
                f"{report.since.size} (consistency proof of {len(report.proof)} hashes checked)"
            )
            for event in report.appended:
                art = f" {event['artefact'][:16]}" if event["artefact"] else ""
                click.echo(f"{event['seq']:>6}  {event['time'][:19]}  {event['action']}{art}")
            click.echo(f"{_n(len(report.appended), 'event')} appended since.")
    if not report.ok:
        sys.exit(ExitCode.PROBLEMS)
