"""`constancia timestamp`: trusted time for checkpoints from an RFC 3161 Time-Stamp Authority.

No command goes online: `request` writes a file the user carries to a connected machine, and
`attach` takes the authority's answer back in.
"""

from __future__ import annotations

from pathlib import Path

import click

from constancia.cli import (
    ARCHIVE_OPT,
    JSON_OPT,
    WAIT_OPT,
    _custodian_signer,
    _emit,
    _open,
    _say,
    cli,
)

_EXAMPLE_TSA = "https://freetsa.org/tsr"


@cli.group("timestamp")
def timestamp_group() -> None:
    """Trusted time for the custody log (RFC 3161), carried by hand: nothing goes online."""


@timestamp_group.command("request")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the request (default: ./checkpoint-N.tsq, N = the checkpoint).",
)
@ARCHIVE_OPT
@JSON_OPT
@WAIT_OPT
def timestamp_request(
    out: Path | None, archive_path: Path | None, as_json: bool, wait: float
) -> None:
    """Write a time-stamp request for the latest checkpoint, to send to a TSA."""
    from archive.fsutil import write_atomic
    from archive.timestamp import make_request

    archive = _open(archive_path)
    req = make_request(archive, wait=wait)
    target = (out or Path(f"checkpoint-{req.checkpoint}.tsq")).absolute()
    write_atomic(target, req.der)
    if as_json:
        _emit(
            {
                "checkpoint": req.checkpoint,
                "request": str(target),
                "kept": req.kept,
                "sha256": req.digest.hex(),
                "nonce": f"{req.nonce:#x}",
                "reused": req.reused,
            }
        )
        return
    click.echo(str(target))
    again = " (the same request as before)" if req.reused else ""
    answer = target.with_suffix(".tsr").name
    _say(
        f"Wrote the time-stamp request for checkpoint {req.checkpoint}{again}; a copy is kept "
        f"as {req.kept}.\nCarry {target.name} to a connected machine and send it to a "
        f"time-stamp authority, for example:\n"
        f"  curl -sS -H 'Content-Type: application/timestamp-query' "
        f"--data-binary @{target.name} {_EXAMPLE_TSA} > {answer}\n"
        f"Bring {answer} back with the authority's CA certificate, and run:\n"
        f"  constancia timestamp attach {answer} --ca CA.pem"
    )


@timestamp_group.command("attach")
@click.argument("response", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--ca",
    "ca",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The time-stamp authority's CA certificate (PEM), which issued its certificate.",
)
@ARCHIVE_OPT
@JSON_OPT
@WAIT_OPT
def timestamp_attach(
    response: Path, ca: Path, archive_path: Path | None, as_json: bool, wait: float
) -> None:
    """Verify a TSA's response (.tsr) and keep it with its checkpoint (needs the
    custodian's key: it is recorded in the custody log)."""
    from archive.timestamp import attach, examine

    archive = _open(archive_path)
    examine(archive, response, ca)  # a bad token is refused before the passphrase is asked
    done = attach(archive, _custodian_signer(archive), response, ca, wait=wait)
    t = done.token
    if as_json:
        _emit(
            {
                "checkpoint": done.checkpoint,
                "token": done.path,
                "ca": done.ca_path,
                "gen_time": t.time_text,
                "tsa": t.tsa,
                "serial": f"{t.serial:#x}",
                "token_sha256": done.token_sha256,
                "event": done.event["seq"],
                "log_checkpoint": done.new_checkpoint,
            }
        )
        return
    click.echo(
        f"Checkpoint {done.checkpoint} was time-stamped at {t.time_text} by {t.tsa} "
        f"(serial {t.serial:#x}); kept as {done.path}."
    )
    _say(
        f"Recorded as custody event {done.event['seq']}; the custody log is now signed at "
        f"{done.new_checkpoint} events."
    )
