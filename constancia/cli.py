"""The `constancia` command line: parse options, call one library function, print.

Heavy modules are imported inside the commands so that `constancia --help` stays fast.
Every ConstanciaError is caught once, in :func:`main`, and printed as one plain sentence.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from constancia.errors import ConstanciaError, ExitCode, IdentityError, UsageError

if TYPE_CHECKING:
    from archive.identity import Signer
    from archive.store import Archive

log = logging.getLogger("constancia")

ARCHIVE_OPT = click.option(
    "--archive",
    "archive_path",
    type=click.Path(path_type=Path, file_okay=False),
    help="The archive folder (default: $CONSTANCIA_ARCHIVE, or the archive containing the "
    "current folder).",
)
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
QUIET_OPT = click.option(
    "--quiet", "-q", "quiet", is_flag=True, help="No progress bar or messages."
)
WAIT_OPT = click.option(
    "--wait",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for another command writing to the archive.",
)


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _say(message: str) -> None:
    click.echo(message, err=True)


def _print_problems(problems: list[dict[str, Any]]) -> None:
    """One line per finding on stdout: ``CODE path: message`` (the --json form has them all)."""
    for p in problems:
        where = f" {p['path']}" if p.get("path") else ""
        click.echo(f"{p['code']}{where}: {p['message']}")


def _passphrase(confirm: bool = False) -> str:
    env = os.environ.get("CONSTANCIA_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise IdentityError(
            "no passphrase given",
            hint="set CONSTANCIA_PASSPHRASE, or run the command in a terminal to be asked",
        )
    value: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def _signer() -> Signer:
    from archive.identity import load_identity, unlock

    load_identity()  # says plainly that there is no identity, before asking a passphrase
    return unlock(_passphrase())


def _open(archive_path: Path | None) -> Archive:
    from archive.store import Archive

    return Archive.open(Archive.locate(archive_path))


def _custodian_signer(archive: Archive) -> Signer:
    signer = _signer()
    if signer.identity.fingerprint != archive.settings.custodian_fingerprint:
        raise IdentityError(
            f"this archive's custodian is {archive.settings.custodian_name}; your identity "
            f"({signer.identity.name}) cannot sign its checkpoints",
            hint="run the command as the custodian (CONSTANCIA_HOME selects the identity)",
        )
    return signer


class _Cli(click.Group):
    """Catches our errors once for every command: one sentence, a hint, the exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConstanciaError as e:
            if os.environ.get("CONSTANCIA_DEBUG") == "1":
                raise
            _fail(e)
        except (KeyboardInterrupt, EOFError, click.exceptions.Abort):
            click.echo("\nconstancia: interrupted", err=True)
            sys.exit(ExitCode.CANNOT_RUN)
        except OSError as e:
            if os.environ.get("CONSTANCIA_DEBUG") == "1":
                raise
            name = f" {e.filename}" if e.filename else ""
            click.echo(
                f"constancia: the system refused an operation on{name}: {e.strerror}", err=True
            )
            sys.exit(ExitCode.CANNOT_RUN)


@click.group(name="constancia", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="constancia")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or messages.")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks (for developers).")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, traceback: bool) -> None:
    """Constancia: an offline archive for evidence that survives denial.

    Ingest files with a signed record and custody trail; verify every byte with tools
    nobody on this project wrote.
    """
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    if traceback:
        os.environ["CONSTANCIA_DEBUG"] = "1"


@cli.group()
def identity() -> None:
    """Your personal signing key."""


@identity.command("create")
@click.option("--name", required=True, help="Your name as it will appear in records.")
@JSON_OPT
def identity_create(name: str, as_json: bool) -> None:
    """Create an Ed25519 signing key, encrypted with a passphrase."""
    from archive.identity import create_identity, home

    ident = create_identity(name, _passphrase(confirm=True))
    if as_json:
        _emit(
            {
                "name": ident.name,
                "fingerprint": ident.fingerprint,
                "public_key": ident.public_line,
                "home": str(home()),
            }
        )
    else:
        click.echo(
            f"Created the identity of {ident.name}\n{ident.fingerprint}\n{ident.public_line}"
        )
        _say(f"The private key is in {home()}; keep a backup and remember the passphrase.")


@identity.command("show")
@JSON_OPT
def identity_show(as_json: bool) -> None:
    """Print your name, fingerprint and public key line."""
    from archive.identity import load_identity

    ident = load_identity()
    if as_json:
        _emit(
            {"name": ident.name, "fingerprint": ident.fingerprint, "public_key": ident.public_line}
        )
    else:
        click.echo(
            f"name         {ident.name}\nfingerprint  {ident.fingerprint}\n"
            f"public key   {ident.public_line}"
        )


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="The archive's name (default: the folder's name).")
@JSON_OPT
def init(path: Path, name: str | None, as_json: bool) -> None:
    """Create a new archive at PATH; your identity becomes its custodian."""
    from archive.store import Archive

    archive = Archive.create(path, name or path.absolute().name, _signer())
    s = archive.settings
    if as_json:
        _emit(
            {
                "path": str(archive.root),
                "name": s.name,
                "origin": s.origin,
                "custodian": s.custodian_name,
                "fingerprint": s.custodian_fingerprint,
            }
        )
    else:
        click.echo(
            f"Created the archive {s.name!r} at {archive.root}\n"
            f"origin     {s.origin}\ncustodian  {s.custodian_name} "
            f"({s.custodian_fingerprint})"
        )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--meta",
    "meta_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A YAML file of metadata for every file of this call.",
)
@click.option(
    "--include-hidden", is_flag=True, help="Also ingest files whose names start with a dot."
)
@click.option(
    "--no-index",
    is_flag=True,
    help="Leave the search index for later (the next search brings it up to date): the "
    "fastest way to get files safely into the archive.",
)
@ARCHIVE_OPT
@JSON_OPT
@WAIT_OPT
@QUIET_OPT
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    meta_file: Path | None,
    include_hidden: bool,
    no_index: bool,
    archive_path: Path | None,
    as_json: bool,
    wait: float,
    quiet: bool,
) -> None:
    """Ingest files and folders (recursively); NAME.yaml beside a file is its metadata."""
    from artefacts.metadata import load_sidecar
    from constancia.errors import MetadataError
    from constancia.progress import Bar
    from ingest.pipeline import ingest_paths

    archive = _open(archive_path)
    meta: dict[str, Any] = {}
    if meta_file is not None:
        try:
            meta, warnings = load_sidecar(meta_file)
        except MetadataError as e:
            raise UsageError(e.message, path=e.path, line=e.line, hint=e.hint) from None
        for w in warnings:
            _say(f"warning: {w}")
    signer = _custodian_signer(archive)
    quiet = quiet or ctx.obj["quiet"]
    bar = Bar.for_stderr("ingest", quiet)
    index_bar = Bar.for_stderr("index ", quiet, after=bar)
    try:
        report = ingest_paths(
            archive,
            signer,
            list(paths),
            meta=meta,
            include_hidden=include_hidden,
            progress=bar,
            index_progress=index_bar,
            wait=wait,
            on_wait=None if quiet else _say,
            index=not no_index,
        )
    finally:
        bar.close()
        index_bar.close()
    for note in report.notes:
        _say(f"note: {note}")
    for r in report.results:
        if as_json:
            _emit(r.to_json())
        elif r.status in ("ingested", "duplicate"):
            again = "" if r.recorded else " (already recorded)"
            click.echo(
                f"{r.status:<9} {r.id}  {r.source}{again if r.status == 'duplicate' else ''}"
            )
        if not quiet:
            for w in r.warnings:
                _say(f"warning: {r.source}: {w}")
        if r.error:
            _say(f"{r.status}: {r.error}")
    counts = ", ".join(
        f"{report.count(s)} {s}"
        for s in ("ingested", "duplicate", "rejected", "skipped")
        if report.count(s)
    )
    if not quiet:
        _say(
            f"{counts or 'nothing to ingest'}; custody log at {report.checkpoint_size} events"
            if report.checkpoint_size
            else counts or "nothing to ingest"
        )
    if not report.ok:
        sys.exit(ExitCode.PROBLEMS)


@cli.command()
@click.argument("artefact")
@ARCHIVE_OPT
@JSON_OPT
def show(artefact: str, archive_path: Path | None, as_json: bool) -> None:
    """The record of an artefact and its custody trail."""
    from archive.views import artefact_view
    from constancia.render import event_text, record_text

    archive = _open(archive_path)
    view = artefact_view(archive, archive.resolve_id(artefact))
    if as_json:
        _emit(view)
        return
    click.echo(record_text(view["record"]))
    click.echo(f"\nCustody trail ({_n(len(view['custody']), 'event')}):")
    for event in view["custody"]:
        click.echo("  " + event_text(event))


@cli.command("log")
@click.argument("artefact", required=False)
@ARCHIVE_OPT
@JSON_OPT
def log_cmd(artefact: str | None, archive_path: Path | None, as_json: bool) -> None:
    """Custody events (all, or one artefact's), and whether the chain verifies."""
    from archive.views import custody_events, log_verdict
    from constancia.render import event_text

    archive = _open(archive_path)
    art = archive.resolve_id(artefact) if artefact else None
    for event in custody_events(archive, art):
        _emit(event) if as_json else click.echo(event_text(event))
    report = log_verdict(archive)
    if report.ok:
        _say(
            f"chain verified: {report.events} events, signed checkpoint at {report.checkpoint_size}"
        )
    else:
        for p in report.problems:
            _say(f"{p.code}: {p.path}: {p.message}")
        sys.exit(ExitCode.PROBLEMS)


@cli.command()
@click.argument("artefacts", nargs=-1)
@click.option(
    "--record",
    "record_event",
    is_flag=True,
    help="Append the outcome to the custody log as a fixity-check event "
    "(needs the custodian's key).",
)
@ARCHIVE_OPT
@JSON_OPT
@WAIT_OPT
@click.pass_context
def verify(
    ctx: click.Context,
    artefacts: tuple[str, ...],
    record_event: bool,
    archive_path: Path | None,
    as_json: bool,
    wait: float,
) -> None:
    """Check fixity, inventories, signatures, the custody log and checkpoints (read only)."""
    from archive.verify import verify_archive
    from archive.views import record_fixity_check

    archive = _open(archive_path)
    ids = [archive.resolve_id(a) for a in artefacts] if artefacts else None
    if record_event:
        signer = _custodian_signer(archive)
        report, refused = record_fixity_check(archive, signer, ids, wait=wait)
        if refused is not None:
            _say(f"constancia: the check was not recorded: {refused}")
    else:
        with archive.lock(wait=wait, shared=True):
            report = verify_archive(archive, ids)
    if as_json:
        _emit(report.to_json())
    else:
        _print_problems([p.to_json() for p in report.problems])
        verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        click.echo(
            f"{verdict}: {_n(report.artefacts, 'artefact')}, "
            f"{_n(report.events, 'custody event')}, "
            + (
                f"checkpoint at {report.checkpoint_size}"
                if report.checkpoint_size is not None
                else "no valid checkpoint"
            )
        )
        if report.only_recoverable:
            _say(
                "These come from an interrupted command; the next writing command (for "
                "example `constancia ingest`) repairs them."
            )
    if not report.ok:
        sys.exit(ExitCode.PROBLEMS)


def _fail(e: ConstanciaError) -> NoReturn:
    click.echo(f"constancia: {e}", err=True)
    if e.hint:
        click.echo(f"  hint: {e.hint}", err=True)
    sys.exit(e.exit_code)


def _register_commands() -> None:
    """Commands kept in their own modules (imported here so they join the group)."""
    from constancia import cli_import, cli_package, cli_search, cli_timestamp  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `constancia` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # pypdf reports every repair it makes to a damaged PDF; the record says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        cli.main(args=argv, prog_name="constancia")
    except KeyboardInterrupt:
        click.echo("constancia: interrupted", err=True)
        sys.exit(ExitCode.CANNOT_RUN)


_register_commands()

if __name__ == "__main__":
    main()
